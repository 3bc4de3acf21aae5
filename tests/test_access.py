"""Who may open what: role × route × own/other relay → status. Every route of the app is here.

"own" objects belong to the user's relay (or territory); "other" ones to a relay of another
territory. Another relay's object answers 404, never 403 with data."""
import pytest

from portal.beneficiaries.models import Beneficiary
from portal.cash.operations import open_session
from portal.certificates.operations import issue_certificate
from portal.extensions import db
from portal.laptops.models import Laptop
from portal.laptops.operations import book_laptops
from portal.sales.operations import LineRequest, PaymentRequest, record_sale
from portal.sales.prints import print_original
from portal.security import Role
from portal.workshops.operations import enrol, record_attendance
from tests.test_cash import close_till

ANON, VOL, MGR, COORD, ADMIN = "anonymous", Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN
ROLES = [ANON, VOL, MGR, COORD, ADMIN]
LOGIN = 303  # anonymous users are sent to the login page


def row(method, rule, anon=LOGIN, vol=403, mgr=403, coord=403, admin=403, other=None):
    """Expected status per role on own objects, and on another relay's objects (`other`)."""
    own = dict(zip(ROLES, (anon, vol, mgr, coord, admin)))
    return method, rule, own, own | (other or {})


TABLE = [
    row("GET", "/", vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/healthz", anon=200, vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/login", anon=200, vol=303, mgr=303, coord=303, admin=303),
    row("POST", "/login", anon=422, vol=303, mgr=303, coord=303, admin=303),
    row("POST", "/logout", vol=303, mgr=303, coord=303, admin=303),
    row("GET", "/password", vol=200, mgr=200, coord=200, admin=200),
    row("POST", "/password", vol=422, mgr=422, coord=422, admin=422),
    row("GET", "/territories/", admin=200),
    row("GET", "/territories/new", admin=200),
    row("POST", "/territories/new", admin=422),
    row("GET", "/territories/<int:territory_id>/edit", admin=200),
    row("POST", "/territories/<int:territory_id>/edit", admin=422),
    row("GET", "/relays/", coord=200, admin=200),
    row("GET", "/relays/new", coord=200, admin=200),
    row("POST", "/relays/new", coord=422, admin=422),
    row("GET", "/relays/<int:relay_id>", mgr=200, coord=200, admin=200, other={MGR: 404, COORD: 404}),
    row("GET", "/relays/<int:relay_id>/edit", coord=200, admin=200, other={COORD: 404}),
    row("POST", "/relays/<int:relay_id>/edit", coord=422, admin=422, other={COORD: 404}),
    row("GET", "/users/", mgr=200, coord=200, admin=200),
    row("GET", "/users/new", mgr=200, coord=200, admin=200),
    row("POST", "/users/new", mgr=422, coord=422, admin=422),
    row("GET", "/users/<int:user_id>/edit", mgr=200, coord=200, admin=200, other={MGR: 404, COORD: 404}),
    row("POST", "/users/<int:user_id>/edit", mgr=422, coord=422, admin=422, other={MGR: 404, COORD: 404}),
    row("POST", "/users/<int:user_id>/deactivate", mgr=303, coord=303, admin=303, other={MGR: 404, COORD: 404}),
    row("POST", "/users/<int:user_id>/activate", mgr=303, coord=303, admin=303, other={MGR: 404, COORD: 404}),
    row("GET", "/audit/", admin=200),
    row("GET", "/beneficiaries/", vol=200, mgr=200),
    row("GET", "/beneficiaries/new", vol=200, mgr=200),
    row("POST", "/beneficiaries/new", vol=422, mgr=422),
    row("GET", "/beneficiaries/notice", vol=200, mgr=200),
    row("GET", "/beneficiaries/notice.pdf", vol=200, mgr=200),
    row("GET", "/beneficiaries/<int:beneficiary_id>", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/beneficiaries/<int:beneficiary_id>/edit", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("POST", "/beneficiaries/<int:beneficiary_id>/edit", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("POST", "/beneficiaries/<int:beneficiary_id>/renew", vol=303, mgr=303, other={VOL: 404, MGR: 404}),
    row("GET", "/beneficiaries/<int:beneficiary_id>/export.json", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/beneficiaries/<int:beneficiary_id>/export.pdf", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/beneficiaries/<int:beneficiary_id>/anonymise", mgr=200, other={MGR: 404}),
    row("POST", "/beneficiaries/<int:beneficiary_id>/anonymise", mgr=422, other={MGR: 404}),
    row("GET", "/sales/", vol=200, mgr=200),
    row("GET", "/sales/new", vol=200, mgr=200),
    row("POST", "/sales/new", vol=422, mgr=422),  # records: nothing to record in an empty form
    row("POST", "/sales/new/lines", vol=200, mgr=200),  # nothing chosen: the screen recalculated
    row("POST", "/sales/new/remove", vol=200, mgr=200),
    row("POST", "/sales/new/recalculate", vol=200, mgr=200),
    row("GET", "/sales/<int:sale_id>", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("POST", "/sales/<int:sale_id>/print", vol=303, mgr=303, other={VOL: 404, MGR: 404}),
    # 422: the form names no print shown (the reprint that follows print `seen`).
    row("POST", "/sales/<int:sale_id>/reprint", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("GET", "/sales/<int:sale_id>/prints/<int:number>.pdf", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    # 302: to the latest print (the world's sales have their original), never a new one.
    row("GET", "/sales/<int:sale_id>/receipt.pdf", vol=302, mgr=302, other={VOL: 404, MGR: 404}),
    row("GET", "/sales/<int:sale_id>/receipt", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/sales/<int:sale_id>/void", mgr=200, other={MGR: 404}),
    row("POST", "/sales/<int:sale_id>/void", mgr=422, other={MGR: 404}),
    row("GET", "/catalogue/", coord=200, admin=200),
    row("GET", "/catalogue/new", coord=200, admin=200),
    row("POST", "/catalogue/new", coord=422, admin=422),
    row("GET", "/catalogue/<int:product_id>/edit", coord=200, admin=200),
    row("POST", "/catalogue/<int:product_id>/edit", coord=422, admin=422),
    row("GET", "/stock/", vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/stock/<int:relay_id>/movements", vol=200, mgr=200, coord=200, admin=200,
        other={VOL: 404, MGR: 404, COORD: 404}),
    row("GET", "/stock/<int:relay_id>/adjust", mgr=200, coord=200, admin=200, other={MGR: 404, COORD: 404}),
    row("POST", "/stock/<int:relay_id>/adjust", mgr=422, coord=422, admin=422, other={MGR: 404, COORD: 404}),
    row("GET", "/stock/<int:relay_id>/thresholds", mgr=200, coord=200, admin=200, other={MGR: 404, COORD: 404}),
    row("POST", "/stock/<int:relay_id>/thresholds", mgr=422, coord=422, admin=422, other={MGR: 404, COORD: 404}),
    row("GET", "/stock/deliveries/new", coord=200, admin=200),
    row("POST", "/stock/deliveries/new", coord=422, admin=422),
    row("GET", "/stock/transfers/new", coord=200, admin=200),
    row("POST", "/stock/transfers/new", coord=422, admin=422),
    row("GET", "/cash/", mgr=200),
    row("GET", "/cash/close", mgr=200),
    row("POST", "/cash/close", mgr=422),
    row("POST", "/cash/open", mgr=303),  # a session is open already: back to the till page
    row("POST", "/cash/deposit", mgr=422),
    row("GET", "/cash/<int:closing_id>", mgr=200, other={MGR: 404}),
    row("GET", "/cash/<int:closing_id>/report.pdf", mgr=200, other={MGR: 404}),
    row("GET", "/cash/<int:closing_id>/report", mgr=200, other={MGR: 404}),
    row("GET", "/workshops/", vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/workshops/parcours/new", vol=200, mgr=200),
    row("POST", "/workshops/parcours/new", vol=422, mgr=422),
    row("GET", "/workshops/parcours/<int:parcours_id>", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/parcours/<int:parcours_id>/edit", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/edit", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/enrolments", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/people", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    # 422: the person attended a session, so the enrolment stays (their certificate).
    row("POST", "/workshops/parcours/<int:parcours_id>/enrolments/<int:beneficiary_id>/delete", vol=422, mgr=422,
        other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/parcours/<int:parcours_id>/sessions/new", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/sessions/new", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/sessions/<int:session_id>", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/sessions/<int:session_id>/edit", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/sessions/<int:session_id>/edit", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/sessions/<int:session_id>/duplicate", vol=303, mgr=303, other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/sessions/<int:session_id>/attendance/<int:beneficiary_id>", vol=422, mgr=422,
        other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/sessions/<int:session_id>/sheet.pdf", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/sessions/<int:session_id>/sheet", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/laptops/", vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/laptops/new", coord=200),
    row("POST", "/laptops/new", coord=422),
    row("GET", "/laptops/<int:laptop_id>/edit", coord=200, other={COORD: 404}),
    row("POST", "/laptops/<int:laptop_id>/edit", coord=422, other={COORD: 404}),
    row("POST", "/laptops/sessions/<int:session_id>/book", vol=422, mgr=422, other={VOL: 404, MGR: 404}),
    row("POST", "/laptops/sessions/<int:session_id>/<int:laptop_id>/delete", vol=303, mgr=303,
        other={VOL: 404, MGR: 404}),
    row("POST", "/laptops/sessions/<int:session_id>/hand-out", vol=303, mgr=303, other={VOL: 404, MGR: 404}),
    row("POST", "/laptops/sessions/<int:session_id>/<int:laptop_id>/return", vol=422, mgr=422,
        other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/certificates", vol=303, mgr=303, other={VOL: 404, MGR: 404}),
    row("GET", "/workshops/parcours/<int:parcours_id>/certificates.pdf", vol=200, mgr=200,
        other={VOL: 404, MGR: 404}),
    row("POST", "/workshops/parcours/<int:parcours_id>/certificates/<int:beneficiary_id>", vol=303, mgr=303,
        other={VOL: 404, MGR: 404}),
    row("GET", "/certificates/<int:certificate_id>.pdf", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/certificates/<int:certificate_id>", vol=200, mgr=200, other={VOL: 404, MGR: 404}),
    row("GET", "/verify", anon=200, vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/verify/<code>", anon=200, vol=200, mgr=200, coord=200, admin=200),
    row("GET", "/reports/", mgr=200, coord=200, admin=200),
    row("GET", "/reports/relays/<int:relay_id>", mgr=200, coord=200, admin=200, other={MGR: 404, COORD: 404}),
    row("GET", "/reports/figures.csv", mgr=200, coord=200, admin=200),
    row("GET", "/reports/journal.csv", mgr=200, coord=200, admin=200),
    row("GET", "/reports/report.pdf", mgr=200, coord=200, admin=200),
    row("GET", "/reports/report", mgr=200, coord=200, admin=200),
    row("GET", "/static/<path:filename>", anon=200, vol=200, mgr=200, coord=200, admin=200),
]

INVALID = {"name": "", "email": "", "current": "", "first_name": "", "tag": ""}



def cases():
    """(method, rule, role, own/other, expected status) for every row of the table."""
    return [
        (method, rule, role, where, expected[role])
        for method, rule, own, other in TABLE
        for where, expected in (("own", own), ("other", other))
        if where == "own" or "<int:" in rule
        for role in ROLES
    ]


def changes_the_world(case) -> bool:
    """A POST that succeeds may log out, deactivate or unenrol: it gets a world of its own."""
    method, _, role, _, expected = case
    return method == "POST" and role != ANON and expected < 400


# Requests that change nothing (every GET, every refused POST) share one world per role and
# place, which keeps the table fast enough to grow with the app.
CHANGES = [pytest.param(*case, id=" ".join(case[:4])) for case in cases() if changes_the_world(case)]
ROLE_PLACES = [pytest.param(role, where, id=f"{role} {where}") for role in ROLES for where in ("own", "other")]


@pytest.fixture
def world(make_territory, make_relay, make_user, make_beneficiary, make_product, make_parcours,
          make_workshop_session):
    """Territory A with our relay, territory B with another relay; one account per role in A."""
    here, there = make_territory("A"), make_territory("B")
    ours, theirs = make_relay(here, code="OURS"), make_relay(there, code="THEIRS")
    users = {
        VOL: make_user(VOL, relay=ours), MGR: make_user(MGR, relay=ours),
        COORD: make_user(COORD, territory=here), ADMIN: make_user(ADMIN),
    }
    targets = {
        "own": {"territory_id": here.id, "relay_id": ours.id, "user_id": make_user(VOL, relay=ours).id,
                "beneficiary_id": make_beneficiary(ours).id},
        "other": {"territory_id": there.id, "relay_id": theirs.id, "user_id": make_user(VOL, relay=theirs).id,
                  "beneficiary_id": make_beneficiary(theirs).id},
    }
    accessory = make_product([ours, theirs], stock=5, category="accessory", eligibility_required=False)
    for where, seller in (("own", users[VOL]), ("other", make_user(VOL, relay=theirs))):
        sale = record_sale(seller, f"access-{where}", [LineRequest(accessory.id)], [PaymentRequest("cash", 500)])
        targets[where] |= {"sale_id": sale.id, "number": print_original(seller, sale).number}
    for where in targets:
        targets[where]["product_id"] = accessory.id  # one catalogue for every territory
    for where, manager in (("own", users[MGR]), ("other", make_user(MGR, relay=theirs))):
        targets[where]["closing_id"] = close_till(manager, reopen=False).id
        open_session(manager, 2000)  # cash in the till, for a deposit
    for where, relay in (("own", ours), ("other", theirs)):
        parcours = make_parcours(relay)
        targets[where]["parcours_id"] = parcours.id
        session = make_workshop_session(parcours)
        targets[where]["session_id"] = session.id
        enrol(parcours, targets[where]["beneficiary_id"], relay.id, users[VOL])
        laptop = Laptop(territory_id=relay.territory_id, tag=f"PC-{where}", model="ThinkPad T480")
        db.session.add(laptop)
        db.session.commit()
        targets[where]["laptop_id"] = laptop.id
        facilitator = make_user(VOL, relay=relay)
        book_laptops(session, [laptop.id], facilitator)
        person = db.session.get(Beneficiary, targets[where]["beneficiary_id"])
        record_attendance(session, person, "present", facilitator)
        certificate = issue_certificate(parcours, person, facilitator)
        targets[where] |= {"certificate_id": certificate.id, "code": certificate.code}
    return users, targets


def build_url(rule: str, ids: dict) -> str:
    url = rule.replace("<path:filename>", "app.css")
    for name, value in ids.items():
        url = url.replace(f"<{name}>", str(value))
        url = url.replace(f"<int:{name}>", str(value))
    return url


@pytest.mark.parametrize("method, rule, role, where, expected", CHANGES)
def test_request_that_changes_something(client, login, world, method, rule, role, where, expected):
    users, targets = world
    if role != ANON:
        assert login(users[role]).status_code == 303
    assert_status(client, method, build_url(rule, targets[where]), expected, role)


@pytest.mark.parametrize("role, where", ROLE_PLACES)
def test_requests_that_change_nothing(client, login, world, role, where):
    users, targets = world
    if role != ANON:
        assert login(users[role]).status_code == 303
    failures = []
    for method, rule, case_role, case_where, expected in cases():
        if (case_role, case_where) == (role, where) and not changes_the_world((method, rule, role, where, expected)):
            try:
                assert_status(client, method, build_url(rule, targets[where]), expected, role)
            except AssertionError as failure:
                failures.append(str(failure).splitlines()[0])
    assert not failures, "\n".join(failures)


def assert_status(client, method: str, url: str, expected: int, role: str) -> None:
    # An invalid value for each form, so that an allowed POST answers 422 and changes nothing.
    with client.open(url, method=method, data=INVALID) as response:
        assert response.status_code == expected, f"{role} {method} {url}: {response.status_code}, not {expected}"
        if expected == 404:
            assert "Page introuvable" in response.text, f"{role} {method} {url}: not the French 404 page"


def test_every_route_is_in_the_table(app):
    covered = {(method, rule) for method, rule, _, _ in TABLE}
    routes = {
        (method, rule.rule) for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - covered == set(), "routes missing from the access table"
    assert covered - routes == set(), "table rows for routes that no longer exist"
