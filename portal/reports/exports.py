"""The reports as CSV files that open cleanly in a French Excel: UTF-8 with a byte order mark,
";" between fields, decimal commas, dates as dd/mm/yyyy, CRLF line ends (the csv module's)."""
import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo

from flask import Response, current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..beneficiaries.models import Beneficiary
from ..catalogue.models import CATEGORIES
from ..database import day_bounds
from ..extensions import db
from ..relays.models import Relay
from ..sales.models import PAYMENT_METHODS, Payment, Sale
from .forms import Period
from .masking import masked
from .queries import Figures, relay_figures

BOM = "\ufeff"  # without it, Excel reads the file as Windows-1252

FIGURES_HEADER = [
    "Structure", "Code", "Mois", "Du", "Au", "Nouvelles personnes", "Personnes servies", "Ventes",
    "Montant net (€)", "SIM gratuites", "Appareils",
    *(f"{label} (unités)" for label in CATEGORIES.values()),
    *(f"{label} (€)" for label in PAYMENT_METHODS.values()),
    "Annulations", "Écarts de caisse", "Séances", "Participant·es", "Heures", "Attestations",
]
JOURNAL_HEADER = ["Structure", "N° de reçu", "Date", "Heure", "Montant (€)", "Moyen(s) de paiement",
                  "Code personne", "Annule le reçu", "Motif d'annulation"]


def csv_response(rows: Iterable[list], filename: str) -> Response:
    """A CSV download; `filename` is plain ASCII (made of dates, never of a name)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    csv.writer(buffer, delimiter=";").writerows(rows)
    response = Response(buffer.getvalue().encode("utf-8"), mimetype="text/csv")
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
    return value.strftime("%d/%m/%Y")


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
        *(euros(f.payments.get(method, [0, 0])[1]) for method in PAYMENT_METHODS),
        masked(f.voids), f.closing_differences, f.sessions, masked(f.participants), hours(f.minutes),
        masked(f.certificates),
    ]


def journal_rows(relay_ids: list[int], period: Period):
    """The header, then every sale and void of the period by relay and receipt number: the
    person's public code, never a name."""
    start, end = day_bounds(period.start)[0], day_bounds(period.end)[1]
    in_period = (Sale.relay_id.in_(relay_ids), Sale.created_at >= start, Sale.created_at < end)
    paid = defaultdict(list)
    for sale_id, method, cents in db.session.execute(
            select(Payment.sale_id, Payment.method, Payment.amount_cents).join(Sale).where(*in_period)
            .order_by(Payment.id)):
        paid[sale_id].append(f"{PAYMENT_METHODS[method]} {euros(cents)} €")
    voided = aliased(Sale)
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    yield JOURNAL_HEADER
    for sale_id, relay, number, created_at, total, code, voided_number, reason in db.session.execute(
            select(Sale.id, Relay.name, Sale.number, Sale.created_at, Sale.total_cents, Beneficiary.code,
                   voided.number, Sale.void_reason)
            .join(Relay, Relay.id == Sale.relay_id)
            .outerjoin(Beneficiary, Beneficiary.id == Sale.beneficiary_id)
            .outerjoin(voided, voided.id == Sale.voids_sale_id)
            .where(*in_period).order_by(Relay.name, Sale.year, Sale.seq)):
        local = created_at.replace(tzinfo=UTC).astimezone(zone)
        yield [relay, number, day(local), local.strftime("%H:%M"), euros(total), " + ".join(paid[sale_id]),
               code or "", voided_number or "", reason]
