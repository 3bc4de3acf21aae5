"""Activity reports: the figures of a small, hand-computed dataset; the summary tables equal a
recomputation from the raw rows after random sales, voids and attendance changes; small counts
masked; the period chooser — on SQLite and PostgreSQL."""
import random
import uuid
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.beneficiaries.models import Beneficiary
from portal.cash.models import CashSession
from portal.cash.operations import close_session, open_session, open_session_of, session_summary
from portal.certificates.operations import issue_certificate
from portal.clock import local_day
from portal.extensions import db
from portal.reports.forms import Period
from portal.reports.models import SPANS
from portal.reports.queries import Figures, _apply, relay_figures, split_period
from portal.sales.models import Sale
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.security import Role
from portal.workshops.models import Attendance, WorkshopSession
from portal.workshops.operations import enrol, record_attendance, save_session
from tests.test_cash import utc

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)


@pytest.fixture
def dataset(make_user, make_product, make_beneficiary, make_parcours, make_workshop_session):
    """One relay's month, small enough to count by hand (see test_figures_of_a_hand_computed_dataset)."""
    manager = make_user(Role.MANAGER)
    relay = manager.relay
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    today = clock.today()
    people = [make_beneficiary(relay, name, "Test", eligible_on=today) for name in ("Awa", "Bilal", "Chloé")]
    sim = make_product([relay], stock=20, name="Carte SIM", price=500, reference=1500)
    recharge = make_product([relay], stock=20, name="Recharge", category="recharge", price=1000, reference=1000)
    free = make_product([relay], stock=20, name="SIM d'urgence", category="free_sim", price=0, reference=1000)
    d1, d2 = today - timedelta(days=10), today - timedelta(days=5)
    record_sale(volunteer, uuid.uuid4().hex, [LineRequest(sim.id)], [PaymentRequest("cash", 500)], people[0].id,
                at=utc(d1, 10))
    close_session(manager, {"cash": 450}, {}, "Pièce de 50 centimes perdue", at=utc(d1, 19))
    open_session(manager, 0, at=utc(d1, 19))
    second = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(recharge.id), LineRequest(sim.id)],
                         [PaymentRequest("card", 1500)], people[1].id, at=utc(d2, 11))
    record_sale(volunteer, uuid.uuid4().hex, [LineRequest(free.id)], [PaymentRequest("free", 0)], people[0].id)
    void_sale(manager, second, "Erreur de produit", uuid.uuid4().hex)
    parcours = make_parcours(relay)
    first_session = make_workshop_session(parcours, day=today - timedelta(days=1), duration_minutes=120)
    second_session = make_workshop_session(parcours, day=today, duration_minutes=90)
    for person in people:
        enrol(parcours, person.id, relay.id, volunteer)
    record_attendance(first_session, people[0], "present", volunteer)
    record_attendance(first_session, people[1], "present", volunteer)
    record_attendance(first_session, people[1], "absent", volunteer)  # a slip, corrected
    record_attendance(second_session, people[0], "present", volunteer)
    record_attendance(second_session, people[2], "present", volunteer)
    issue_certificate(parcours, people[0], volunteer)
    return relay, manager, Period(today - timedelta(days=30), today)


def test_figures_of_a_hand_computed_dataset(dataset):
    relay, _, period = dataset
    f = relay_figures([relay.id], period.start, period.end)[relay.id]
    assert f.onboarded == 3
    assert (f.sales, f.sales_cents) == (3, 500 + 1500 + 0)
    assert (f.voids, f.voids_cents) == (1, -1500)
    assert f.net_cents == 500 and f.void_rate == pytest.approx(1 / 3)
    assert f.categories == {"sim": [1, 500], "recharge": [0, 0], "free_sim": [1, 0]}
    assert f.payments == {"cash": [1, 500], "card": [0, 0], "free": [1, 0]}
    assert (f.free_sims, f.devices) == (1, 0)
    assert f.served == 3  # Awa and Bilal bought, Chloé came to a session
    assert (f.sessions, f.participants, f.present_marks, f.minutes) == (2, 2, 3, 120 + 90 + 90)
    assert f.certificates == 1
    assert (f.closings, f.closing_differences, f.closing_gap_cents) == (1, 1, 50)
    assert f.last_activity == clock.today()


def test_a_period_before_the_activity_is_empty_and_months_split_exactly(dataset):
    relay, _, period = dataset
    empty = relay_figures([relay.id], period.start - timedelta(days=400), period.start - timedelta(days=200))
    assert empty[relay.id].sales == 0 and empty[relay.id].served == 0 and empty[relay.id].last_activity is None
    # The same figures whatever way the period falls on month boundaries (monthly rows + edge days).
    whole = relay_figures([relay.id], date(2000, 1, 1), clock.today() + timedelta(days=60))[relay.id]
    exact = relay_figures([relay.id], period.start, period.end)[relay.id]
    assert (whole.sales, whole.net_cents, whole.minutes, whole.onboarded) == (
        exact.sales, exact.net_cents, exact.minutes, exact.onboarded)


def test_a_period_splits_into_whole_years_months_and_days_that_cover_it_once():
    rng = random.Random(3)
    for _ in range(400):
        start = date(2019, 1, 1) + timedelta(days=rng.randint(0, 2000))
        end = start + timedelta(days=rng.choice((0, 1, 30, 31, 90, 365, 800, 2500)) + rng.randint(0, 3))
        open_end = rng.random() < .3
        covered = []
        for span, first, last in split_period(start, end, open_end):
            day = first
            while day <= last:  # the days of the span's periods from `first` to `last`
                following = span.following(day)
                covered += [day + timedelta(days=i) for i in range((following - day).days)]
                day = following
        assert len(covered) == len(set(covered))
        beyond = [day for day in covered if day > end]
        assert sorted(day for day in covered if day <= end) == [start + timedelta(days=i)
                                                                for i in range((end - start).days + 1)]
        assert not beyond or open_end  # only a period ending today may take its month or year whole
    pieces = split_period(date(2024, 12, 30), date(2026, 2, 2), False)
    assert [(span.column, first, last) for span, first, last in pieces] == [
        ("year", date(2025, 1, 1), date(2025, 1, 1)), ("day", date(2024, 12, 30), date(2024, 12, 31)),
        ("month", date(2026, 1, 1), date(2026, 1, 1)), ("day", date(2026, 2, 1), date(2026, 2, 2))]


def test_the_dashboard_masks_small_counts_and_compares_periods(dataset, client, login, make_user):
    relay, manager, _ = dataset
    coordinator = make_user(Role.COORDINATOR, territory=relay.territory)
    login(coordinator)
    page = client.get("/reports/?period=month").text
    assert relay.name in page
    assert "&lt; 5" in page  # 3 people onboarded, 3 sales...
    assert ">3<" not in page
    for name in ("Awa", "Bilal", "Chloé"):
        assert name not in page


@pytest.mark.parametrize("app_config", [{"REPORT_SMALL_COUNT": 1}], indirect=True)  # nothing masked
def test_the_dashboard_shows_sales_per_category_and_payment_method_one_table_at_a_time(dataset, client, login,
                                                                                      make_user):
    relay, _, period = dataset
    login(make_user(Role.COORDINATOR, territory=relay.territory))
    # The dataset's 31 days, whatever the day of the month (a calendar month may not hold them)
    dates = f"period=custom&start={period.start}&end={period.end}"
    activity = client.get(f"/reports/?{dates}").text
    assert "Activité par structure" in activity and "Carte SIM d&#39;urgence gratuite" not in activity
    row = lambda page: page.split(relay.name, 1)[1].split("</tr>", 1)[0]  # noqa: E731 — the relay's row
    categories = client.get(f"/reports/?{dates}&view=categories").text
    assert 'value="categories"' in categories  # the period form keeps the table
    cells = row(categories).split("<td>")[1:]
    # Carte SIM, Recharge (sold then voided), Forfait, SIM d'urgence: this period, then the one before
    assert cells[0].startswith("1 · 5,00\xa0€<small") and cells[1].startswith("0 · 0,00\xa0€")
    assert cells[3].startswith("1 · 0,00\xa0€") and '<small class="was">0 · 0,00\xa0€</small>' in cells[0]
    payments = row(client.get(f"/reports/?{dates}&view=payments").text).split("<td>")[1:]
    assert [cell.split("<small")[0] for cell in payments] == [
        "1 · 5,00\xa0€", "0 · 0,00\xa0€", "0 · 0,00\xa0€", "0 · 0,00\xa0€", "1 · 0,00\xa0€"]
    # cash, card (voided), cheque, voucher, free
    assert "Activité par structure" in client.get(f"/reports/?{dates}&view=nonsense").text


@pytest.mark.parametrize("query, message", [
    ("period=custom&start=2026-10-01&end=2026-09-01", "La date de fin précède la date de début."),
    ("period=custom&start=2026-10-01", "Choisissez les deux dates."),
    ("period=custom&start=hier&end=2026-09-01", "date"),
])
def test_a_wrong_period_fails_in_place(client, login, make_user, query, message):
    login(make_user(Role.COORDINATOR))
    response = client.get(f"/reports/?{query}")
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize("kind, start, end, previous", [
    ("month", date(2026, 11, 1), date(2026, 11, 27), (date(2026, 10, 1), date(2026, 10, 31))),
    ("last_month", date(2026, 10, 1), date(2026, 10, 31), (date(2026, 9, 1), date(2026, 9, 30))),
    ("quarter", date(2026, 10, 1), date(2026, 11, 27), (date(2026, 7, 1), date(2026, 9, 30))),
    ("year", date(2026, 1, 1), date(2026, 11, 27), (date(2025, 1, 1), date(2025, 12, 31))),
    ("custom", date(2026, 11, 10), date(2026, 11, 19), (date(2026, 10, 31), date(2026, 11, 9))),
])
def test_each_period_is_compared_with_the_one_before(kind, start, end, previous):
    assert Period(start, end).previous(kind) == Period(*previous)


def test_volunteers_have_no_report_and_managers_see_their_relay_only(client, login, make_user, make_relay):
    volunteer = make_user(Role.VOLUNTEER)
    login(volunteer)
    assert client.get("/reports/").status_code == 403
    manager = make_user(Role.MANAGER)
    other = make_relay(manager.relay.territory, name="Autre structure")
    client.post("/logout")
    login(manager)
    page = client.get("/reports/").text
    assert manager.relay.name in page and other.name not in page
    assert client.get(f"/reports/relays/{other.id}").status_code == 404


def test_the_summary_equals_a_recomputation_from_raw_rows(app, make_user, make_product, make_beneficiary, make_parcours,
                                                         make_workshop_session):
    rng = random.Random(7)
    manager = make_user(Role.MANAGER)
    relay = manager.relay
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    today = clock.today()
    people = [make_beneficiary(relay, f"P{i}", "Test", eligible_on=today) for i in range(6)]
    products = [make_product([relay], stock=200, price=price, category=category)
                for price, category in ((500, "sim"), (1000, "plan"), (0, "free_sim"), (300, "accessory"))]
    parcours = make_parcours(relay)
    sessions = [make_workshop_session(parcours, day=today - timedelta(days=d), duration_minutes=m)
                for d, m in ((400, 45), (40, 60), (3, 120), (0, 90))]  # the first one last year
    for person in people:
        enrol(parcours, person.id, relay.id, volunteer)
    sales = []
    for _ in range(80):
        action = rng.random()
        if action < .4:
            product = rng.choice(products)
            if product.category == "free_sim":
                continue  # one per person: not what this test is about
            quantity = rng.randint(1, 3)
            total = product.price_cents * quantity
            method = rng.choice(["cash", "card", "cheque"]) if total else "free"
            at = utc(today - timedelta(days=rng.randint(0, 50)), rng.randint(8, 19))
            payment = PaymentRequest(method, total, reference="1234567" if method == "cheque" else "")
            sales.append(record_sale(volunteer, uuid.uuid4().hex, [LineRequest(product.id, quantity)], [payment],
                                     rng.choice(people).id, at=at))
        elif action < .5 and sales:
            sale = rng.choice(sales)
            if sale.voided_by is None:
                void_sale(manager, sale, "Test", uuid.uuid4().hex)
        elif action < .58:  # a session moved or shortened after people were marked present
            session = rng.choice(sessions)
            session.day = min(today, session.day + timedelta(days=rng.randint(-20, 20)))
            session.duration_minutes = rng.choice((60, 90, 120))
            save_session(session, parcours, manager)
        else:
            session, person = rng.choice(sessions), rng.choice(people)
            record_attendance(session, person, rng.choice(["present", "present", "absent", "excused"]), volunteer)
    # Withdrawn marks: her only day of last year, her only day of a month, one of two days of a month.
    alone = make_beneficiary(relay, "Seule", "Test", eligible_on=today)
    enrol(parcours, alone.id, relay.id, volunteer)
    for session in sessions:
        record_attendance(session, alone, "present", volunteer)
    for session in sessions[:3]:
        record_attendance(session, alone, "absent", volunteer)
    for gap in (0, -50, 200):  # several closings of today's session, two with a difference
        expected = session_summary(open_session_of(relay.id))["expected"]
        close_session(manager, {**expected, "cash": expected["cash"] + gap}, {}, "Test" if gap else "")
        open_session(manager, 0)
    db.session.expire_all()
    assert summary_rows() == recomputed_rows()
    # Any period gives the figures the daily rows give (years and months are only faster).
    for start, end in ((today - timedelta(days=420), today), (today - timedelta(days=400), today - timedelta(days=35)),
                       (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)), (today.replace(day=1), today)):
        f = relay_figures([relay.id], start, end)[relay.id]
        figures, served, present = summary_rows()["day"]
        sums = defaultdict(lambda: [0, 0])
        for (_, day, figure, key), (count, cents) in figures.items():
            if start <= day <= end:
                sums[(figure, key)][0] += count
                sums[(figure, key)][1] += cents
        expected = Figures()
        for (figure, key), (count, cents) in sums.items():
            _apply(expected, figure, key, count, cents)
        expected.served = len({person for _, day, person in served if start <= day <= end})
        expected.participants = len({person for _, day, person in present if start <= day <= end})
        for name in ("sales", "sales_cents", "voids", "voids_cents", "present_marks", "minutes", "onboarded",
                     "closings", "closing_differences", "closing_gap_cents", "served", "participants"):
            assert getattr(f, name) == getattr(expected, name), (start, end, name)
        assert {k: v for k, v in f.categories.items() if v != [0, 0]} == {
            k: v for k, v in expected.categories.items() if v != [0, 0]}
    kept = summary_rows()
    assert "Rapports recalculés" in app.test_cli_runner().invoke(args=["rebuild-reports"]).output
    db.session.expire_all()
    assert summary_rows() == kept


def summary_rows():
    """Every report table, as {span column: (figures, people served, workshop participants)}."""
    rows = {}
    for span in SPANS:
        figures = {(r.relay_id, getattr(r, span.column), r.figure, r.key): (r.count, r.amount_cents)
                   for r in db.session.scalars(select(span.figures)) if (r.count, r.amount_cents) != (0, 0)}
        people = [{(r.relay_id, getattr(r, span.column), r.beneficiary_id) for r in db.session.scalars(select(model))}
                  for model in (span.people, span.participants)]
        rows[span.column] = (figures, *people)
    return rows


def recomputed_rows():
    """The same figures, written again from the sales, people, attendance marks and closings."""
    daily, served, present = defaultdict(lambda: [0, 0]), set(), set()

    def add(relay_id, day, figure, key, count, cents):
        daily[(relay_id, day, figure, key)][0] += count
        daily[(relay_id, day, figure, key)][1] += cents

    for sale in db.session.scalars(select(Sale)):
        day = local_day(sale.created_at)
        add(sale.relay_id, day, "voids" if sale.voids_sale_id else "sales", "", 1, sale.total_cents)
        for line in sale.lines:
            add(sale.relay_id, day, "category", line.category, line.quantity, line.quantity * line.unit_cents)
        for payment in sale.payments:
            add(sale.relay_id, day, "payment", payment.method, -1 if sale.voids_sale_id else 1, payment.amount_cents)
        if sale.beneficiary_id and not sale.voids_sale_id:
            served.add((sale.relay_id, day, sale.beneficiary_id))
    for person in db.session.scalars(select(Beneficiary)):
        add(person.relay_id, local_day(person.created_at), "onboarded", "", 1, 0)
    for mark, session in db.session.execute(select(Attendance, WorkshopSession).join(WorkshopSession)):
        if mark.status == "present":
            add(session.relay_id, session.day, "present", "", 1, session.duration_minutes)
            served.add((session.relay_id, session.day, mark.beneficiary_id))
            present.add((session.relay_id, session.day, mark.beneficiary_id))
    for closing in db.session.scalars(select(CashSession).where(CashSession.closed_at.is_not(None))):
        add(closing.relay_id, closing.day, "closing", "", 1, 0)
        gap = sum(abs(count.counted_cents - count.expected_cents) for count in closing.counts)
        if gap:
            add(closing.relay_id, closing.day, "closing_gap", "", 1, gap)
    rows = {}
    for span in SPANS:
        figures = defaultdict(lambda: [0, 0])
        for (relay_id, day, figure, key), (count, cents) in daily.items():
            figures[(relay_id, span.first_day(day), figure, key)][0] += count
            figures[(relay_id, span.first_day(day), figure, key)][1] += cents
        rows[span.column] = ({k: tuple(v) for k, v in figures.items() if v != [0, 0]},
                             *[{(relay_id, span.first_day(day), person) for relay_id, day, person in people}
                               for people in (served, present)])
    return rows
