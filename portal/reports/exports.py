"""The reports as CSV files that open cleanly in a French Excel: UTF-8 with a byte order mark,
";" between fields, decimal commas, dates as dd/mm/yyyy, CRLF line ends (the csv module's)."""
import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, timedelta

from flask import Response, stream_with_context
from sqlalchemy import select, tuple_
from sqlalchemy.orm import aliased

from .. import clock, payments
from ..beneficiaries.models import Beneficiary
from ..catalogue.models import CATEGORIES
from ..clock import day_bounds
from ..extensions import db
from ..relays.models import Relay
from ..sales.models import Payment, Sale
from .forms import Period
from .masking import masked
from .queries import Figures, relay_figures

BOM = "\ufeff"  # without it, Excel reads the file as Windows-1252

FIGURES_HEADER = [
    "Structure", "Code", "Mois", "Du", "Au", "Nouvelles personnes", "Personnes servies", "Ventes",
    "Montant net (€)", "SIM gratuites", "Appareils",
    *(f"{label} (unités)" for label in CATEGORIES.values()),
    *(f"{label} (€)" for label in payments.labels().values()),
    "Annulations", "Écarts de caisse", "Séances", "Participant·es", "Heures", "Attestations",
]
JOURNAL_HEADER = ["Structure", "N° de reçu", "Date", "Heure", "Montant (€)", "Moyen(s) de paiement",
                  "Code personne", "Annule le reçu", "Motif d'annulation"]


CHUNK = 64 * 1024  # characters of CSV sent at a time


def csv_response(rows: Iterable[list], filename: str) -> Response:
    """A CSV download, sent as its rows are read: ten years of a territory's journal are hundreds
    of megabytes, which neither the server's memory nor the person waiting should hold at once. A
    failure midway breaks the connection, so the browser reports the download as failed instead
    of keeping a short file. `filename` is plain ASCII (made of dates, never of a name)."""
    def chunks():
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer, delimiter=";")
        for row in rows:
            writer.writerow(row)
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    response = Response(stream_with_context(chunks()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def euros(cents: int) -> str:
    """-1250 → "-12,50": a number for Excel, without thousands separator nor currency sign."""
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100},{abs(cents) % 100:02d}"


def hours(minutes: int) -> str:
    """90 → "1,50"."""
    return f"{minutes / 60:.2f}".replace(".", ",")


def day(value: date) -> str:
    """dd/mm/yyyy (an f-string: strftime is slow for the journal's millions of rows)."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def months(period: Period) -> list[Period]:
    """The months the period overlaps, each cut to the period."""
    slices, start = [], period.start
    while start <= period.end:
        next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        slices.append(Period(start, min(next_month - timedelta(days=1), period.end)))
        start = next_month
    return slices


def figures_rows(relays: list[Relay], period: Period):
    """The header, then one row per relay and month of the period, small counts masked."""
    yield FIGURES_HEADER
    ids = [relay.id for relay in relays]
    per_month = [(month, relay_figures(ids, month.start, month.end)) for month in months(period)]
    for relay in relays:
        for month, figures in per_month:
            yield [relay.name, relay.code, month.start.strftime("%m/%Y"), day(month.start), day(month.end),
                   *_figures(figures[relay.id])]


def _figures(f: Figures) -> list:
    return [
        masked(f.onboarded), masked(f.served), masked(f.sales), euros(f.net_cents), masked(f.free_sims),
        masked(f.devices),
        *(masked(f.categories.get(code, [0, 0])[0]) for code in CATEGORIES),
        *(euros(f.payments.get(method, [0, 0])[1]) for method in payments.labels()),
        masked(f.voids), f.closing_differences, f.sessions, masked(f.participants), hours(f.minutes),
        masked(f.certificates),
    ]


JOURNAL_BATCH = 2000  # sales read at a time, with their payments


def journal_rows(relay_ids: list[int], period: Period):
    """The header, then every sale and void of the period by relay and receipt number: the
    person's public code, never a name. Each relay's receipts are read a batch at a time, each
    batch after the last one's receipt number (one short query each: nothing held open while the
    file is sent), then the batch's payments."""
    start, end = day_bounds(period.start)[0], day_bounds(period.end)[1]
    voided = aliased(Sale)
    zone = clock.zone()
    relays = db.session.execute(select(Relay.id, Relay.name).where(Relay.id.in_(relay_ids))
                                .order_by(Relay.name, Relay.id)).all()
    yield JOURNAL_HEADER
    for relay_id, relay in relays:
        # A receipt's year is its local day's: the period's years hold all its receipts.
        last = (period.start.year, 0)
        while True:
            batch = db.session.execute(
                select(Sale.id, Sale.year, Sale.seq, Sale.number, Sale.created_at, Sale.total_cents, Beneficiary.code,
                       voided.number, Sale.void_reason)
                .outerjoin(Beneficiary, Beneficiary.id == Sale.beneficiary_id)
                .outerjoin(voided, voided.id == Sale.voids_sale_id)
                .where(Sale.relay_id == relay_id, _number > last, Sale.year <= period.end.year,
                       Sale.created_at >= start, Sale.created_at < end)
                .order_by(Sale.year, Sale.seq).limit(JOURNAL_BATCH)).all()
            if not batch:
                break
            paid = defaultdict(list)
            for sale_id, method, cents in db.session.execute(
                    select(Payment.sale_id, Payment.method, Payment.amount_cents)
                    .where(Payment.sale_id.in_([row.id for row in batch])).order_by(Payment.id)):
                paid[sale_id].append(f"{payments.label(method)} {euros(cents)} €")
            for sale_id, _, _, number, created_at, total, code, voided_number, reason in batch:
                local = created_at.replace(tzinfo=UTC).astimezone(zone)
                yield [relay, number, day(local), f"{local.hour:02d}:{local.minute:02d}", euros(total),
                       " + ".join(paid[sale_id]), code or "", voided_number or "", reason]
            last = (batch[-1].year, batch[-1].seq)


# A receipt's number as (year, seq): compared with a tuple, it is a range of the (relay, year, seq) index.
_number = tuple_(Sale.year, Sale.seq)
