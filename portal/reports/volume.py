"""A synthetic volume for measuring the reports: `flask seed-volume`.

It adds a territory "Volume" of N relays (V001, V002, …) with their people, years of sales and
voids, workshop sessions with attendance, and cash sessions closed each evening, written in bulk (SQLAlchemy
Core executemany in batches on SQLite, COPY on PostgreSQL), relay by relay and year by year so
that memory stays bounded, one transaction per relay. The report tables (activity per day,
month and year; people served per day, month and year) are written in the same pass with the
figures that reports/operations.py would have written had each row gone through record_sale,
void_sale, create_beneficiary, record_attendance, open_session and close_session.

Not written for these relays: stock movements and ledger entries. These relays exist to measure
reports; their ledgers are not chained (`flask verify-ledger` reports them as broken) and their
stock is empty. Run it on a database where nobody else is writing: ids are given explicitly.
"""
import random
import secrets
import time as clock
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from operator import itemgetter
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, text, update
from stdnum import luhn
from werkzeug.security import generate_password_hash

from .. import payments
from ..beneficiaries.models import Beneficiary, BeneficiaryEvent, BeneficiaryToken
from ..beneficiaries.operations import add_months
from ..beneficiaries.queries import CODE_ALPHABET, fold, name_tokens
from ..cash.models import CashCount, CashSession
from ..catalogue.models import Product, ProductOffer
from ..clock import local_day, utcnow
from ..clock import zone as portal_zone
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..relays.models import Relay, Territory
from ..sales.models import Payment, ReceiptCounter, Sale, SaleLine
from ..sales.operations import receipt_number
from ..security import Role
from ..users.models import User
from ..workshops.models import Attendance, Enrolment, Parcours, WorkshopSession
from .models import (
    DailyActivity,
    MonthlyActivity,
    Participant,
    ParticipantMonth,
    ParticipantYear,
    ServedMonth,
    ServedPerson,
    ServedYear,
    YearlyActivity,
)


class _Weighted:
    """Keys drawn by weight: random.choices() without rebuilding the cumulative weights each time."""

    def __init__(self, weights: dict[str, int]):
        self.keys, self.cumulative = list(weights), list(accumulate(weights.values()))

    def draw(self, rng: random.Random) -> str:
        return self.keys[bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


TERRITORY = "Volume"
BATCH = 20_000  # rows per executemany
LOAD_CACHE = -256 * 1024  # SQLite page cache while loading, in KiB (restored after each relay)
PEOPLE_PER_RELAY = 300
VOID_SHARE = 0.02
NO_PERSON_SHARE = 0.08  # accessory-only sales, the one product that needs no eligible person
# (code, name, category, price, reference price, tracking, eligibility required, limit per person)
PRODUCTS = [
    ("VOL-SIM", "Carte SIM prépayée", "sim", 500, 1000, "iccid", True, None),
    ("VOL-RECH", "Recharge 10 €", "recharge", 1000, 1000, "none", True, None),
    ("VOL-FORF", "Forfait 1 mois 20 Go", "plan", 300, 999, "none", True, None),
    ("VOL-TEL", "Smartphone reconditionné", "smartphone", 4000, 15000, "imei", True, 1),
    ("VOL-URG", "Carte SIM d'urgence", "free_sim", 0, 1000, "iccid", True, 1),
    ("VOL-CHARG", "Chargeur USB", "accessory", 300, 1200, "none", False, None),
]
# What a person comes for (the first line of a sale), by share; a second line is sometimes added.
MAIN_CATEGORIES = _Weighted({"recharge": 45, "plan": 20, "sim": 17, "free_sim": 10, "smartphone": 3,
                             "accessory": 5})
SECOND_CATEGORIES = ["recharge", "accessory", "sim", "plan"]
METHODS = _Weighted({"cash": 60, "card": 30, "cheque": 10})
FIRST_NAMES = ["Marie", "Nathalie", "Kévin", "Océane", "Gérard", "Mamadou", "Fatoumata", "Alpha", "Aïssatou",
               "Ibrahima", "Mohammad", "Zahra", "Farid", "Olena", "Andrii", "Iryna", "Yonas", "Selam", "Mehari",
               "Senait", "Karim", "Nadia", "Ahmad", "Mariama"]
LAST_NAMES = ["Martin", "Garnier", "Roux", "Faure", "Blanc", "Diallo", "Barry", "Camara", "Bah", "Sow", "Naderi",
              "Hosseini", "Karimi", "Sultani", "Shevchenko", "Kovalenko", "Tesfay", "Haile", "Kidane", "Eyraud",
              "Chabrand", "Baldé", "Ahmadi", "Melnyk"]
LANGUAGES = ["français", "peul, soussou, français", "dari, pachto", "ukrainien, russe", "tigrinya, amharique"]
TOWNS = ["Gap", "Embrun", "Briançon", "Laragne-Montéglin", "Veynes", "Chorges", "Tallard", "Guillestre", "Serres",
         "L'Argentière-la-Bessée", "Saint-Bonnet-en-Champsaur", "Savines-le-Lac"]
VOID_REASONS = ["Erreur de produit", "Erreur de moyen de paiement", "Vente saisie deux fois",
                "Produit défectueux rapporté", "Erreur de personne"]
ATTENDANCE = _Weighted({"present": 80, "absent": 12, "excused": 8})
CLOSING_REASONS = ["Erreur de rendu de monnaie", "Pièce introuvable", "Paiement carte non passé"]
HOLIDAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}
# Opening hours, in seconds after local midnight: mornings and afternoons.
OPEN = [(9 * 3600, 12 * 3600 + 1800), (13 * 3600 + 1800, 18 * 3600)]
OPEN_SECONDS = sum(end - start for start, end in OPEN)
LAST_VOID_CLOCK = 19 * 3600
CLOSING_CLOCK = 19 * 3600 + 1800
WORKSHOP_START, WORKSHOP_MINUTES = time(14), 120


@dataclass
class Totals:
    relays: int = 0
    people: int = 0
    sales: int = 0
    voids: int = 0
    lines: int = 0
    payments: int = 0
    sessions: int = 0
    marks: int = 0
    closings: int = 0
    daily: int = 0
    monthly: int = 0
    yearly: int = 0
    served: int = 0  # person-days (and their months and years)
    rows: int = 0  # every row inserted
    seconds: float = 0.0
    insert_seconds: float = 0.0  # of which in the inserts (the rest: drawing the rows)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class _Person:
    id: int
    row: dict
    day: date  # onboarding day (local)
    until: date  # last day the person still comes
    last_activity: datetime
    free_sim: bool = False
    smartphone: bool = False


@dataclass
class _Receipt:
    """A sale or void being generated; its id, year and seq are given once the year is sorted."""

    at: datetime
    day: date
    clock: int  # seconds after local midnight
    person: _Person | None
    user_id: int
    lines: list  # (product, quantity, serial, grade)
    payments: list  # (method, amount, given, cheque number)
    total: int
    change: int = 0
    voids: "_Receipt | None" = None
    reason: str = ""
    id: int = 0
    number: str = ""
    session_id: int | None = None


@dataclass(frozen=True)
class _Product:
    """What a sale line needs of a product (plain values: no database object in the loops)."""

    id: int
    name: str
    category: str
    price_cents: int
    reference_cents: int
    tracking: str


@dataclass
class _Relay:
    id: int
    code: str
    town: str
    index: int
    volunteer_id: int
    manager_id: int
    sales: int
    people: list = field(default_factory=list)
    serials: int = 0
    grand_total: int = 0


class _Writer:
    """Buffers of rows per table, written in dependency order by executemany batches."""

    ORDER = [Beneficiary, BeneficiaryToken, BeneficiaryEvent, CashSession, CashCount, Sale, SaleLine, Payment, Parcours,
             WorkshopSession, Enrolment, Attendance, ReceiptCounter, DailyActivity, MonthlyActivity, YearlyActivity,
             ServedPerson, ServedMonth, ServedYear, Participant, ParticipantMonth, ParticipantYear]

    def __init__(self, totals: Totals):
        self.rows = {model: [] for model in self.ORDER}
        self.totals = totals

    def add(self, model, row: dict) -> None:
        self.rows[model].append(row)

    def pending(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def flush(self) -> None:
        started = clock.perf_counter()
        postgresql = db.session.get_bind().dialect.name == "postgresql"
        for model in self.ORDER:
            rows = self.rows[model]
            if rows and postgresql:
                _copy(model.__table__, rows)
            else:
                for start in range(0, len(rows), BATCH):
                    db.session.execute(insert(model.__table__), rows[start:start + BATCH])
            self.totals.rows += len(rows)
            rows.clear()
        self.totals.insert_seconds += clock.perf_counter() - started


def _copy(table, rows: list[dict]) -> None:
    """PostgreSQL: the rows through COPY, in the session's transaction. (executemany sends one
    INSERT per row there: ~16,000 rows/s against several times that with COPY.)"""
    columns = list(rows[0])
    values = itemgetter(*columns)
    names = ", ".join(f'"{name}"' for name in columns)
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(values(row))


def seed_volume(relays: int = 100, years: int = 10, sales: int = 3_000_000, seed: int = 5, echo=print) -> Totals:
    """Add the territory "Volume": `relays` relays, `sales` sales (voids come on top) over the
    `years` years up to now. Refused when the territory exists already."""
    started = clock.perf_counter()
    if db.session.scalar(select(Territory.id).where(Territory.name == TERRITORY)):
        raise Refused(f"Le territoire « {TERRITORY} » existe déjà : volume non ajouté.")
    rng = random.Random(seed)
    zone = portal_zone()
    now = utcnow().replace(microsecond=0)
    today = local_day(now)
    first_day = _years_before(today, years) + timedelta(days=1)
    calendar = _Calendar(first_day, today, now, zone)
    totals = Totals(relays=relays)

    generated = _create_relays(relays, first_day, calendar, rng)
    products = _create_products(generated, calendar.start_utc)
    shares = [rng.lognormvariate(0, 0.4) for _ in generated]
    for relay, count in zip(generated, _split(sales, shares)):
        relay.sales = count
    ids = _IdRange()
    codes = set(db.session.scalars(select(Beneficiary.code)))
    writer = _Writer(totals)
    echo(f"Volume : {relays} structures, {_n(sales)} ventes du {first_day:%d/%m/%Y} au {today:%d/%m/%Y}.")
    for relay in generated:
        usual_cache = None
        try:
            with write_transaction():  # one write transaction per relay (SQLite: the write lock, taken at once)
                usual_cache = _page_cache(LOAD_CACHE)
                _seed_relay(relay, calendar, products, ids, codes, writer, totals, rng)
        finally:
            _page_cache(usual_cache)  # after the commit or the rollback
        totals.seconds = clock.perf_counter() - started
        echo(f"  {relay.code} : {_n(relay.sales):>7} ventes, {len(relay.people)} personnes — "
             f"{_n(totals.sales + totals.voids)} reçus, {_n(totals.rows)} enregistrements en {totals.seconds:.0f} s "
             f"({_n(totals.rows_per_second)}/s)")
    ids.set_sequences()
    totals.seconds = clock.perf_counter() - started
    return totals


def _page_cache(size: int | None) -> int | None:
    """SQLite: set this connection's `PRAGMA cache_size` (negative: KiB; None: leave it) and return
    the one it had. The indexes of millions of rows are written faster when their pages stay in
    memory; the app's own setting comes back after each relay."""
    if size is None or db.session.get_bind().dialect.name != "sqlite":
        return None
    before = db.session.execute(text("PRAGMA cache_size")).scalar()
    db.session.execute(text(f"PRAGMA cache_size={int(size)}"))
    return before


def _n(number: float) -> str:
    """12345 → "12 345", as French readers write it."""
    return f"{round(number):,}".replace(",", " ")


# --- the calendar ---------------------------------------------------------------------------

def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class _Calendar:
    """The local days of the period, how busy each is, and their UTC time of local midnight."""

    def __init__(self, first: date, today: date, now: datetime, zone: ZoneInfo):
        self.today, self.now = today, now
        self.days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
        # naive UTC of the local midnight, with the offset of local noon: business hours are
        # never in the hour a change to or from summer time skips or repeats
        self.midnight = {}
        for day in self.days:
            offset = datetime.combine(day, time(12), tzinfo=zone).utcoffset()
            self.midnight[day] = datetime.combine(day, time()) - offset
        self.start_utc = self.midnight[first]
        now_clock = int((now - self.midnight[today]).total_seconds())
        # today: only the opening hours already gone by
        self.today_open = sum(max(0, min(end, now_clock - 60) - start) for start, end in OPEN)
        span = max(1, len(self.days) - 1)
        weights = []
        for i, day in enumerate(self.days):
            weight = self.weight(day) * (0.35 + 0.65 * i / span)  # more recent years busier
            if day == today:
                weight *= self.today_open / OPEN_SECONDS
            weights.append(weight)
        total, self.cumulative = 0.0, []
        for weight in weights:
            total += weight
            self.cumulative.append(total)

    @staticmethod
    def weight(day: date) -> float:
        """Weekdays busy, Saturday mornings less, no Sundays nor public holidays, quiet August."""
        if day.weekday() == 6 or (day.month, day.day) in HOLIDAYS:
            return 0.0
        weight = 1.0 if day.weekday() < 5 else 0.4
        if day.month == 8:
            weight *= 0.55
        elif day.month == 12 and day.day >= 24:
            weight *= 0.5
        return weight

    def draw_days(self, rng: random.Random, count: int) -> list[int]:
        """`count` day indexes, drawn by how busy each day is, sorted."""
        return sorted(rng.choices(range(len(self.days)), cum_weights=self.cumulative, k=count))

    def open_clock(self, rng: random.Random, day: date) -> int:
        """A random moment of the opening hours (today: before now)."""
        second = rng.randrange(self.today_open if day == self.today else OPEN_SECONDS)
        for start, end in OPEN:
            if second < end - start:
                return start + second
            second -= end - start
        raise AssertionError("unreachable")

    def at(self, day: date, seconds: int) -> datetime:
        return self.midnight[day] + timedelta(seconds=seconds)

    def business_day_after(self, day: date, rng: random.Random) -> date | None:
        """A working day one to a few days later, before today; None if there is none."""
        later = day + timedelta(days=rng.randint(1, 6))
        while later < self.today and self.weight(later) == 0:
            later += timedelta(days=1)
        return later if later < self.today else None


def _split(total: int, shares: list[float]) -> list[int]:
    """`total` split along `shares`, exactly (largest remainders)."""
    whole = sum(shares)
    exact = [total * share / whole for share in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(shares)), key=lambda i: counts[i] - exact[i])[:total - sum(counts)]:
        counts[i] += 1
    return counts


class _IdRange:
    """The next id of each table with an integer key (ids are given, not drawn from a sequence)."""

    MODELS = [Beneficiary, BeneficiaryEvent, Sale, SaleLine, Payment, Parcours, WorkshopSession, Enrolment,
              Attendance, CashSession, CashCount]

    def __init__(self):
        self.next = {model: (db.session.scalar(select(func.max(model.id))) or 0) + 1 for model in self.MODELS}

    def take(self, model) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value

    def set_sequences(self) -> None:
        """PostgreSQL: move each sequence past the ids given, for the rows the app adds later."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for model in self.MODELS:
            name = model.__table__.name
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                    f"(SELECT max(id) FROM {name}))"))
        db.session.commit()


# --- territory, relays, accounts, catalogue ----------------------------------------------------

def _create_relays(count: int, first_day: date, calendar: _Calendar, rng: random.Random) -> list[_Relay]:
    # Nobody logs in as these accounts: one hash of a password nobody knows serves them all.
    unusable = generate_password_hash(secrets.token_urlsafe(24), method=current_app.config["PASSWORD_HASH_METHOD"])
    territory = Territory(name=TERRITORY, created_at=calendar.start_utc)
    db.session.add(territory)
    relays = []
    for i in range(1, count + 1):
        code = f"V{i:03d}"
        relay = Relay(territory=territory, code=code, name=f"Relais volume {i:03d}", organisation="Volume de test",
                      town=rng.choice(TOWNS), created_at=calendar.start_utc)
        users = [User(email=f"{prefix}.{code.lower()}@volume.example", display_name=f"{label} {code}", role=role,
                      relay=relay, password_hash=unusable, created_at=calendar.start_utc)
                 for prefix, label, role in (("benevole", "Bénévole", Role.VOLUNTEER),
                                             ("referent", "Référent·e", Role.MANAGER))]
        db.session.add_all([relay, *users])
        relays.append((relay, users))
    db.session.flush()
    generated = [_Relay(relay.id, relay.code, relay.town, i, users[0].id, users[1].id, 0)
                 for i, (relay, users) in enumerate(relays, 1)]
    db.session.commit()
    return generated


def _create_products(relays: list[_Relay], created_at: datetime) -> dict[str, _Product]:
    products = {}
    for code, name, category, price, reference, tracking, eligible, limit in PRODUCTS:
        product = db.session.scalar(select(Product).where(Product.code == code))
        if product is None:
            product = Product(code=code, name=name, category=category, price_cents=price, reference_cents=reference,
                              tracking=tracking, eligibility_required=eligible, limit_per_person=limit,
                              created_at=created_at)
            db.session.add(product)
            db.session.flush()
        products[category] = _Product(product.id, product.name, product.category, product.price_cents,
                                      product.reference_cents, product.tracking)
    db.session.execute(insert(ProductOffer.__table__), [
        {"product_id": product.id, "relay_id": relay.id, "low_stock_threshold": 5}
        for relay in relays for product in products.values()])
    db.session.commit()
    return products


# --- one relay --------------------------------------------------------------------------------

def _seed_relay(relay: _Relay, calendar: _Calendar, products, ids: _IdRange, codes: set, writer: _Writer,
                totals: Totals, rng: random.Random) -> None:
    people = _people(relay, calendar, ids, codes, writer, rng)
    totals.people += len(people)
    onboarded = defaultdict(list)
    for person in people:
        onboarded[person.day.year].append(person)
    day_indexes = calendar.draw_days(rng, relay.sales)
    by_year = defaultdict(list)
    for index in day_indexes:
        by_year[calendar.days[index].year].append(calendar.days[index])
    active = _Active(people)
    pending_voids: list[_Receipt] = []
    counters = []
    yearly, served_months, present_months = defaultdict(lambda: [0, 0]), set(), set()
    for year in range(calendar.days[0].year, calendar.today.year + 1):
        receipts, pending_voids = _year_receipts(relay, calendar, products, by_year[year], pending_voids, active,
                                                 year, rng)
        figures, served, present = defaultdict(lambda: [0, 0]), set(), set()
        for seq, receipt in enumerate(receipts, 1):
            receipt.id = ids.take(Sale)
            receipt.number = receipt_number(relay.code, year, seq)
        _sessions(relay, calendar, receipts, ids, writer, figures, totals, rng, last_year=year == calendar.today.year)
        for seq, receipt in enumerate(receipts, 1):
            _write_receipt(relay, receipt, year, seq, ids, writer, totals)
            _count_sale(figures, served, receipt)
        if receipts:
            counters.append({"relay_id": relay.id, "year": year, "last_seq": len(receipts)})
        for person in onboarded[year]:
            _add(figures, person.day, "onboarded", "", 1, 0)  # as operations.count_onboarding
        _workshops(relay, calendar, year, ids, writer, figures, served, present, totals, rng)
        _write_figures(relay, figures, served, present, writer, totals)
        for (day, figure, key), (count, cents) in figures.items():
            _add(yearly, day.replace(month=1, day=1), figure, key, count, cents)
        served_months.update((day.replace(day=1), person_id) for day, person_id in served)
        present_months.update((day.replace(day=1), person_id) for day, person_id in present)
        if writer.pending() >= 5 * BATCH:
            writer.flush()
    for (year, figure, key), (count, cents) in yearly.items():
        writer.add(YearlyActivity, {"relay_id": relay.id, "year": year, "figure": figure, "key": key,
                                    "count": count, "amount_cents": cents})
    for months, by_month, by_year in ((served_months, ServedMonth, ServedYear),
                                      (present_months, ParticipantMonth, ParticipantYear)):
        for month, person_id in sorted(months):
            writer.add(by_month, {"relay_id": relay.id, "month": month, "beneficiary_id": person_id})
        for year, person_id in sorted({(month.replace(month=1), person_id) for month, person_id in months}):
            writer.add(by_year, {"relay_id": relay.id, "year": year, "beneficiary_id": person_id})
    totals.yearly += len(yearly)
    for counter in counters:
        writer.add(ReceiptCounter, counter)
    writer.flush()
    _update_people(relay, people)


def _people(relay: _Relay, calendar: _Calendar, ids: _IdRange, codes: set, writer: _Writer,
            rng: random.Random) -> list[_Person]:
    """About PEOPLE_PER_RELAY people, onboarded as the relay gets busier; a few on its first days.
    Each comes back for a while (months to years) after onboarding."""
    count = round(PEOPLE_PER_RELAY * (0.7 + 0.6 * rng.random()))
    first_days = [calendar.days[min(i, len(calendar.days) - 1)] for i in range(0, 20, 2)]
    days = sorted(first_days[:min(count, 10)] + [calendar.days[i] for i in calendar.draw_days(rng, max(0, count - 10))])
    notice = current_app.config["NOTICE_VERSION"]
    people = []
    for day in days:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = calendar.at(day, calendar.open_clock(rng, day))
        person_id = ids.take(Beneficiary)
        first_key, last_key = fold(first)[:80], fold(last)[:80]
        row = {
            "id": person_id, "relay_id": relay.id, "code": _new_code(rng, codes), "first_name": first,
            "last_name": last, "first_key": first_key, "last_key": last_key,
            "phone": f"+336{rng.randrange(10**8):08d}" if rng.random() < 0.7 else None, "email": None,
            "birth_year": rng.randint(1950, 2008), "languages": rng.choice(LANGUAGES), "commune": relay.town,
            "notes": "", "eligibility_basis": rng.choice(["asylum", "asylum", "minimum_benefits", "referred"]),
            "referrer_type": rng.choice(["cada", "ccas", "association", ""]), "referrer_name": "",
            "eligibility_verified_by_id": relay.manager_id, "eligibility_verified_on": day,
            "eligibility_until": add_months(day, current_app.config["ELIGIBILITY_MONTHS"]),
            "eligibility_renewals": 0, "need_connection": True, "need_equipment": rng.random() < 0.3,
            "need_skills": rng.random() < 0.6, "autonomy": "".join(rng.choice("01") for _ in range(3)),
            "notice_given_on": day, "notice_version": notice, "created_at": created,
            "created_by_id": relay.volunteer_id, "last_activity_at": created, "anonymised_at": None,
        }
        writer.add(Beneficiary, row)
        for token in name_tokens(first, last):  # as operations._index_names
            writer.add(BeneficiaryToken, {"beneficiary_id": person_id, "token": token, "relay_id": relay.id,
                                          "last_key": last_key, "first_key": first_key})
        writer.add(BeneficiaryEvent, {"id": ids.take(BeneficiaryEvent), "beneficiary_id": person_id, "at": created,
                                      "user_id": relay.volunteer_id, "kind": "created", "detail": ""})
        until = day + timedelta(days=60 + int(rng.expovariate(1 / 480)))
        people.append(_Person(person_id, row, day, until, created))
    relay.people = people
    return people


def _new_code(rng: random.Random, used: set) -> str:
    """As beneficiaries.operations.new_code(): four characters, five once ten draws collided."""
    for attempt in range(20):
        code = "B-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(4 if attempt < 10 else 5))
        if code not in used:
            used.add(code)
            return code
    raise Refused("Plus de code libre pour les personnes.")


class _Active:
    """The people who still come to the relay on a given day (onboarded on an earlier day)."""

    def __init__(self, people: list[_Person]):
        self.people, self.next, self.day, self.current = people, 0, None, []

    def on(self, day: date) -> list[_Person]:
        if day != self.day:
            while self.next < len(self.people) and self.people[self.next].day < day:
                self.current.append(self.people[self.next])
                self.next += 1
            self.current = [p for p in self.current if p.until >= day]
            self.day = day
        return self.current


def _year_receipts(relay: _Relay, calendar: _Calendar, products, days: list[date], carried: list[_Receipt],
                   active: _Active, year: int, rng: random.Random) -> tuple[list[_Receipt], list[_Receipt]]:
    """The year's sales and voids in time order, and the voids that fall into a later year."""
    receipts, later = [], []
    voids = [v for v in carried if v.day.year == year]
    later += [v for v in carried if v.day.year > year]
    start = 0
    while start < len(days):
        day, end = days[start], start
        while end < len(days) and days[end] == day:
            end += 1
        people = active.on(day)
        for clock_ in sorted(calendar.open_clock(rng, day) for _ in range(end - start)):
            sale = _sale(relay, calendar, products, day, clock_, people, rng)
            receipts.append(sale)
            if rng.random() < VOID_SHARE:
                void = _void(relay, calendar, sale, rng)
                if void is not None:
                    (voids if void.day.year == year else later).append(void)
        start = end
    if voids:
        receipts = sorted(receipts + voids, key=lambda r: r.at)  # stable: a void after its sale
    return receipts, later


def _sale(relay: _Relay, calendar: _Calendar, products, day: date, clock_: int, people: list,
          rng: random.Random) -> _Receipt:
    person = rng.choice(people) if people and rng.random() >= NO_PERSON_SHARE else None
    if person is None:
        lines = [_line(relay, products["accessory"], rng.choice((1, 1, 1, 2)), rng)]
    else:
        category = MAIN_CATEGORIES.draw(rng)
        if category == "free_sim" and person.free_sim:
            category = "sim"
        if category == "smartphone" and person.smartphone:
            category = "recharge"
        person.free_sim |= category == "free_sim"
        person.smartphone |= category == "smartphone"
        quantity = 2 if category in ("recharge", "accessory") and rng.random() < 0.15 else 1
        lines = [_line(relay, products[category], quantity, rng)]
        if category != "free_sim" and rng.random() < 0.25:
            second = rng.choice([c for c in SECOND_CATEGORIES if c != category])
            lines.append(_line(relay, products[second], 1, rng))
    total = sum(product.price_cents * quantity for product, quantity, _, _ in lines)
    at = calendar.at(day, clock_)
    if person is not None and at > person.last_activity:
        person.last_activity = at
    payments, change = _payments(total, rng)
    user_id = relay.volunteer_id if rng.random() < 0.8 else relay.manager_id
    return _Receipt(at, day, clock_, person, user_id, lines, payments, total, change)


def _line(relay: _Relay, product: _Product, quantity: int, rng: random.Random) -> tuple:
    serial = grade = ""
    if product.tracking != "none":
        relay.serials += 1
        prefix = "893315" if product.tracking == "iccid" else "35"
        digits = f"{prefix}{relay.index:03d}{relay.serials:09d}"
        serial = digits + luhn.calc_check_digit(digits)
        grade = rng.choice("ABBC") if product.tracking == "imei" else ""
    return product, quantity, serial, grade


def _payments(total: int, rng: random.Random) -> tuple[list, int]:
    """(method, amount, given, cheque number) rows settling `total`, and the change given back."""
    if total == 0:
        return [("free", 0, None, "")], 0
    if total >= 1000 and rng.random() < 0.03:  # part by card, the rest in cash
        card = total // 2 // 100 * 100
        return [("card", card, None, ""), ("cash", total - card, total - card, "")], 0
    method = METHODS.draw(rng)
    if method == "cash":
        given = total if rng.random() < 0.5 else -(-total // 1000) * 1000 + rng.choice((0, 0, 1000))
        return [("cash", total, given, "")], given - total
    if method == "cheque":
        return [("cheque", total, None, f"{rng.randrange(10**7):07d}")], 0
    return [("card", total, None, "")], 0


def _void(relay: _Relay, calendar: _Calendar, sale: _Receipt, rng: random.Random) -> _Receipt | None:
    """The void of `sale` by the manager: minutes later the same day, or a few working days later."""
    day, clock_ = sale.day, None
    if rng.random() < 0.25:
        later = calendar.business_day_after(sale.day, rng)
        if later is not None:
            day, clock_ = later, calendar.open_clock(rng, later)
    if clock_ is None:
        limit = LAST_VOID_CLOCK
        if day == calendar.today:
            limit = min(limit, int((calendar.now - calendar.midnight[day]).total_seconds()) - 1)
        clock_ = min(sale.clock + rng.randint(180, 2700), limit)
        if clock_ <= sale.clock:
            return None
    lines = [(product, -quantity, serial, grade) for product, quantity, serial, grade in sale.lines]
    payments = [(method, -amount, None, "") for method, amount, _, _ in sale.payments]
    at = calendar.at(day, clock_)
    if sale.person is not None and at > sale.person.last_activity:
        sale.person.last_activity = at
    return _Receipt(at, day, clock_, sale.person, relay.manager_id, lines, payments, -sale.total, voids=sale,
                    reason=rng.choice(VOID_REASONS))


def _write_receipt(relay: _Relay, receipt: _Receipt, year: int, seq: int, ids: _IdRange, writer: _Writer,
                   totals: Totals) -> None:
    reference = sum(product.reference_cents * quantity for product, quantity, _, _ in receipt.lines)
    writer.add(Sale, {
        "id": receipt.id, "relay_id": relay.id, "year": year, "seq": seq, "number": receipt.number,
        # unique, and in the order of the ids: the unique index grows at its end
        "form_token": f"volume-{receipt.id:012d}",
        "beneficiary_id": receipt.person.id if receipt.person else None, "user_id": receipt.user_id,
        "created_at": receipt.at, "total_cents": receipt.total, "reference_total_cents": reference,
        "change_cents": receipt.change, "override_reason": "",
        "voids_sale_id": receipt.voids.id if receipt.voids else None, "void_reason": receipt.reason,
        "cash_session_id": receipt.session_id,
    })
    for product, quantity, serial, grade in receipt.lines:
        writer.add(SaleLine, {
            "id": ids.take(SaleLine), "sale_id": receipt.id, "product_id": product.id, "label": product.name,
            "category": product.category, "quantity": quantity, "unit_cents": product.price_cents,
            "reference_unit_cents": product.reference_cents, "serial": serial, "grade": grade})
    for method, amount, given, cheque in receipt.payments:
        writer.add(Payment, {"id": ids.take(Payment), "sale_id": receipt.id, "method": method,
                             "amount_cents": amount, "given_cents": given, "reference": cheque})
    if receipt.voids:
        totals.voids += 1
    else:
        totals.sales += 1
    totals.lines += len(receipt.lines)
    totals.payments += len(receipt.payments)


# --- the report figures: what operations.count_sale / count_onboarding / count_attendance add ---

def _add(figures, day: date, figure: str, key: str, count: int, cents: int) -> None:
    row = figures[(day, figure, key)]
    row[0] += count
    row[1] += cents


def _count_sale(figures, served: set, receipt: _Receipt) -> None:
    """operations.count_sale() of one sale or void (keep the two in step)."""
    void = receipt.voids is not None
    _add(figures, receipt.day, "voids" if void else "sales", "", 1, receipt.total)
    for product, quantity, _, _ in receipt.lines:
        _add(figures, receipt.day, "category", product.category, quantity, quantity * product.price_cents)
    for method, amount, _, _ in receipt.payments:
        _add(figures, receipt.day, "payment", method, -1 if void else 1, amount)
    if receipt.person is not None and not void:
        served.add((receipt.day, receipt.person.id))


def _write_figures(relay: _Relay, figures, served: set, present: set, writer: _Writer, totals: Totals) -> None:
    """The daily rows, the monthly rows summed from them, the people served and the participants."""
    monthly = defaultdict(lambda: [0, 0])
    for (day, figure, key), (count, cents) in sorted(figures.items()):
        writer.add(DailyActivity, {"relay_id": relay.id, "day": day, "figure": figure, "key": key,
                                   "count": count, "amount_cents": cents})
        _add(monthly, day.replace(day=1), figure, key, count, cents)
    for (month, figure, key), (count, cents) in monthly.items():
        writer.add(MonthlyActivity, {"relay_id": relay.id, "month": month, "figure": figure, "key": key,
                                     "count": count, "amount_cents": cents})
    for day, person_id in sorted(served):
        writer.add(ServedPerson, {"relay_id": relay.id, "day": day, "beneficiary_id": person_id})
    for day, person_id in sorted(present):
        writer.add(Participant, {"relay_id": relay.id, "day": day, "beneficiary_id": person_id})
    totals.daily += len(figures)
    totals.monthly += len(monthly)
    totals.served += len(served)


# --- workshops and closings -------------------------------------------------------------------

def _workshops(relay: _Relay, calendar: _Calendar, year: int, ids: _IdRange, writer: _Writer, figures,
               served: set, present: set, totals: Totals, rng: random.Random) -> None:
    """Two parcours a year (spring, autumn) of six sessions a fortnight apart, for 5 to 9 people
    of the relay; each mark present, absent or excused. Past sessions only."""
    for month in (2, 9):
        first = date(year, month, 1) + timedelta(days=rng.randint(0, 20))
        first += timedelta(days=(1 - first.weekday()) % 7)  # a Tuesday
        days = [first + timedelta(days=14 * i) for i in range(6)]
        days = [d for d in days if calendar.days[0] <= d < calendar.today]
        people = [p for p in relay.people if p.day < first <= p.until] if days and days[0] == first else []
        if not people:
            continue
        people = rng.sample(people, min(len(people), rng.randint(5, 9)))
        created = calendar.at(first - timedelta(days=14), 10 * 3600) if first - timedelta(days=14) in \
            calendar.midnight else calendar.at(first, 9 * 3600)
        parcours_id = ids.take(Parcours)
        season = "printemps" if month == 2 else "automne"
        writer.add(Parcours, {
            "id": parcours_id, "relay_id": relay.id, "title": f"Premiers pas sur smartphone – {season} {year}",
            "description": "", "level": "beginner", "themes": "smartphone,messaging,procedures",
            "planned_sessions": 6, "created_at": created, "active": days[-1] >= calendar.today - timedelta(days=30)})
        for person in people:
            writer.add(Enrolment, {"id": ids.take(Enrolment), "parcours_id": parcours_id,
                                   "beneficiary_id": person.id, "enrolled_at": created,
                                   "enrolled_by_id": relay.volunteer_id})
        for day in days:
            session_id = ids.take(WorkshopSession)
            writer.add(WorkshopSession, {
                "id": session_id, "parcours_id": parcours_id, "relay_id": relay.id,
                "host_relay_id": relay.id, "day": day, "start_time": WORKSHOP_START,
                "duration_minutes": WORKSHOP_MINUTES, "commune": relay.town,
                "venue": "Locaux de la structure", "facilitator_id": relay.volunteer_id, "capacity": 10,
                "laptops_planned": 0, "notes": "", "created_at": created})
            totals.sessions += 1
            recorded = calendar.at(day, 16 * 3600 + 1800)
            for person in people:
                status = ATTENDANCE.draw(rng)
                writer.add(Attendance, {"id": ids.take(Attendance), "session_id": session_id,
                                        "beneficiary_id": person.id, "status": status, "recorded_at": recorded,
                                        "recorded_by_id": relay.volunteer_id})
                totals.marks += 1
                if recorded > person.last_activity:  # workshops.operations.touch()
                    person.last_activity = recorded
                if status == "present":  # operations.count_attendance(session, id, None, "present")
                    _add(figures, day, "present", "", 1, WORKSHOP_MINUTES)
                    served.add((day, person.id))
                    present.add((day, person.id))


def _sessions(relay: _Relay, calendar: _Calendar, receipts: list[_Receipt], ids: _IdRange, writer: _Writer,
              figures, totals: Totals, rng: random.Random, last_year: bool) -> None:
    """A cash session for each day with receipts, opened at its first receipt and closed at 19:30,
    as cash.operations.close_session() would: expected per counted method, receipts, totals; a
    few differences; counted as operations.count_closing() does. Today's receipts (or none) are
    in the relay's open session."""
    codes = [method.code for method in payments.counted()]
    start = 0
    while start < len(receipts):
        day, end = receipts[start].day, start
        while end < len(receipts) and receipts[end].day == day:
            end += 1
        if day >= calendar.today:
            break
        session_id = ids.take(CashSession)
        expected, day_total = dict.fromkeys(codes, 0), 0
        for receipt in receipts[start:end]:
            receipt.session_id = session_id
            for method, amount, _, _ in receipt.payments:
                if method in expected:
                    expected[method] += amount
            day_total += receipt.total
        counted, reason = dict(expected), ""
        if rng.random() < 0.03:
            counted["cash"] += rng.choice((-500, -200, -100, -50, 50, 100))
            reason = rng.choice(CLOSING_REASONS)
        relay.grand_total += day_total
        writer.add(CashSession, {
            "id": session_id, "relay_id": relay.id, "opened_at": receipts[start].at, "opened_by_id": relay.manager_id,
            "opening_float_cents": 0, "carried_from_id": None, "closed_at": calendar.at(day, CLOSING_CLOCK),
            "closed_by_id": relay.manager_id, "day": day, "cash_detail": "", "difference_reason": reason,
            "sales_count": end - start, "first_number": receipts[start].number,
            "last_number": receipts[end - 1].number, "total_cents": day_total,
            "grand_total_cents": relay.grand_total, "payload_format": 2})
        for method in codes:
            writer.add(CashCount, {"id": ids.take(CashCount), "session_id": session_id, "method": method,
                                   "expected_cents": expected[method], "counted_cents": counted[method]})
        totals.closings += 1
        _add(figures, day, "closing", "", 1, 0)
        gap = sum(abs(counted[m] - expected[m]) for m in codes)
        if gap:
            _add(figures, day, "closing_gap", "", 1, gap)
        start = end
    if last_year:
        session_id = ids.take(CashSession)
        for receipt in receipts[start:]:
            receipt.session_id = session_id
        writer.add(CashSession, {
            "id": session_id, "relay_id": relay.id, "opened_at": receipts[start].at if start < len(receipts)
            else calendar.now, "opened_by_id": relay.manager_id, "opening_float_cents": 0, "carried_from_id": None,
            "closed_at": None, "closed_by_id": None, "day": None, "cash_detail": "", "difference_reason": "",
            "sales_count": 0, "first_number": "", "last_number": "", "total_cents": 0, "grand_total_cents": 0,
            "payload_format": 2})


def _update_people(relay: _Relay, people: list[_Person]) -> None:
    """Last activity and the last eligibility check, now that the person's sales are known."""
    months = current_app.config["ELIGIBILITY_MONTHS"]
    rows = []
    for person in people:
        checked = person.day
        while add_months(checked, months) < local_day(person.last_activity):
            checked = add_months(checked, months)
        rows.append({"id": person.id, "last_activity_at": person.last_activity, "eligibility_verified_on": checked,
                     "eligibility_until": add_months(checked, months)})
    for start in range(0, len(rows), BATCH):
        db.session.execute(update(Beneficiary), rows[start:start + BATCH])
