"""Hostile input to every form (Hypothesis): each form's valid payload with one or more fields
replaced by a hostile value, dropped or repeated, sometimes in latin-1 or as an htmx request.

Whatever is posted: never a 5xx; a refusal is a 4xx with a French message next to the field and
writes nothing; markup that is stored is shown escaped, on the answer and on the pages that show it.
The data is derandomised and no example database is kept, so every CI run tries the same examples."""
import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import Phase, HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import clock
from portal.beneficiaries.models import Beneficiary
from portal.catalogue.models import Product
from portal.extensions import db
from portal.forms import HIDDEN_CHARACTERS
from portal.security import Role
from tests.conftest import PASSWORD
from tests.test_access import ADMIN, ANON, COORD, MGR, VOL, build_url, world  # noqa: F401 (a fixture)

EXAMPLES = 8  # per form: an example posts to every form of a role
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
# What a payload looks like when it reached the page unescaped (lower-cased: some fields upper-case).
UNESCAPED = ("<script>alert", "<img src=x")
ENGLISH = re.compile(r"Not a valid|This field is required|Invalid (?:input|value|choice|email|date)|Field must")

HOSTILE = [
    "", " ", "\x00", "Amina\x00", "\x1b[31mrouge", "ligne\r\nSet-Cookie: x=1", "\u202eanimA", "\u200b",
    "Ami\u200bna", "\ufeff", "😀" * 3, "Amina\u0301", SCRIPT, '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE sale; --", "' OR 1=1 --", "1e308", "-1e308", str(10**30), "-1", "-5,00", "0", "NaN",
    "inf", "9" * 400, "2026-02-30", "hier", "31/12/2026", "0000-00-00", "9999-12-31", "25:61", "x" * 10_001,
    "é" * 10_000 + SCRIPT, "{{ 7*7 }}", "%s%n", "../../etc/passwd", "null", "[]",
]
# Bytes are sent as they are: invalid UTF-8 and latin-1 in a body declared as UTF-8.
WRONG_ENCODINGS = [b"\xff\xfe\xfd", b"caf\xe9", b"\xc3", b"\xed\xa0\x80", b"Amina\xa0Diallo"]


def hostile_values():
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(WRONG_ENCODINGS),
        st.text(max_size=30),
        st.integers(-10**30, 10**30).map(str),
        st.floats().map(str),
    )


@st.composite
def hostile_body(draw, fields: dict) -> tuple[bytes, dict]:
    """A form body from `fields` with some fields replaced, dropped or repeated; and its headers."""
    pairs = [(name, value) for name, values in fields.items()
             for value in (values if isinstance(values, list) else [values])]
    for name in draw(st.lists(st.sampled_from(sorted(fields) + ["unexpected"]), min_size=1, max_size=3,
                              unique=True)):
        value, how = draw(hostile_values()), draw(st.sampled_from(["replace", "drop", "repeat"]))
        if how != "repeat":
            pairs = [pair for pair in pairs if pair[0] != name]
        if how != "drop":
            pairs.insert(draw(st.integers(0, len(pairs))), (name, value))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1"]))
    headers = PARTIAL if draw(st.booleans()) else {}
    return urlencode(pairs, encoding=encoding, errors="replace").encode("ascii"), headers


@dataclass(frozen=True)
class Form:
    rule: str
    role: str
    valid: object = lambda ids, n: {}  # (ids of the world, a unique number) -> the fields of a valid post
    shows: tuple[str, ...] = ()  # pages (rules) that show what it stores, besides the one it leads to
    markup: tuple[str, ...] = ()  # free-text fields stored and shown as typed
    signs_out: bool = False  # the user must sign in again afterwards


def beneficiary(ids, n):
    return {"first_name": "Awa", "last_name": f"Traoré {n}", "phone": "06 12 34 56 78",
            "email": f"awa{n}@exemple.fr", "birth_year": "1987", "languages": ["arabe", "français"],
            "other_languages": "wolof", "commune": "Gap", "eligibility_basis": "asylum", "referrer_type": "",
            "referrer_name": "CADA Gap", "eligibility_verified_on": clock.today().isoformat(),
            "need_connection": "y", "autonomy": ["0"], "notes": "Préfère le matin", "notice_given": "y",
            "confirm_duplicate": "y"}


def relay(ids, n, code=None):
    return {"name": f"Relais {n}", "organisation": "Secours Populaire", "town": "Embrun",
            "code": code or f"R{n}", "address": "1 rue de la Gare", "legal_mention": "Association loi 1901",
            "receipt_format": "A5", "territory_id": ids["territory_id"], "active": "y"}


def product(ids, n, code=None):
    return {"code": code or f"P-{n}", "name": f"Housse {n}", "category": "accessory", "price_cents": "5,00",
            "reference_cents": "10", "tracking": "none", "limit_per_person": "", "active": "y",
            "relay_ids": [ids["relay_id"]]}


def sale_draft(ids, n):
    return {"token": f"vente-{n}", "beneficiary_id": ids["beneficiary_id"], "line-0-product": ids["product_id"],
            "line-0-quantity": "1", "pay_cash": "5,00", "cash_given": "10", "cash_filled": "5,00", "pay_card": "",
            "pay_cheque": "", "reference_cheque": "", "pay_voucher": "", "reference_voucher": "",
            "override_reason": ""}


def user(ids, n):
    return {"email": f"compte{n}@test.example", "display_name": f"Bénévole {n}", "role": "volunteer",
            "relay_id": ids["relay_id"], "territory_id": "0", "password": "une phrase de passe longue"}


def parcours(ids, n):
    return {"title": f"Premiers pas {n}", "description": "Smartphone et messagerie", "level": "beginner",
            "themes": ["smartphone", "email"], "planned_sessions": "4", "active": "y"}


def session(ids, n, day=None):
    return {"day": (day or clock.today()).isoformat(), "start_time": "14:00", "duration": "1 h 30",
            "commune": "Névache", "venue": "Salle des fêtes", "host_relay_id": ids["relay_id"],
            "facilitator_id": ids["volunteer_id"], "capacity": "10", "laptops_planned": "0",
            "notes": "Apporter une rallonge"}


def laptop(ids, n, tag=None):
    return {"tag": tag or f"PC-{n}", "model": "ThinkPad T480", "serial": f"SN{n}", "state": "available",
            "notes": "Batterie faible"}


# Every POST route of the app, with the role that may use it.
FORMS = [
    Form("/login", ANON, lambda ids, n: {"email": ids["volunteer_email"], "password": PASSWORD}),
    Form("/logout", VOL, signs_out=True),
    Form("/password", VOL, lambda ids, n: {"current": PASSWORD, "new": f"une phrase de passe {n}",
                                          "confirm": f"une phrase de passe {n}"}, signs_out=True),
    Form("/beneficiaries/new", VOL, beneficiary, shows=("/beneficiaries/",),
         markup=("first_name", "last_name", "other_languages", "commune", "referrer_name", "notes")),
    Form("/beneficiaries/<int:beneficiary_id>/edit", VOL, beneficiary,
         markup=("first_name", "last_name", "commune", "referrer_name", "notes")),
    Form("/beneficiaries/<int:beneficiary_id>/renew", VOL),
    Form("/sales/new", VOL, lambda ids, n: sale_draft(ids, n), shows=("/sales/",)),
    Form("/sales/new/lines", VOL, lambda ids, n: sale_draft(ids, n) | {
        "add_code": "", "add_product": ids["product_id"], "add_quantity": "2", "add_serial": ""}),
    Form("/sales/new/remove", VOL, lambda ids, n: sale_draft(ids, n) | {"line": "0"}),
    Form("/sales/new/recalculate", VOL, sale_draft),
    Form("/sales/<int:sale_id>/print", VOL),
    Form("/sales/<int:sale_id>/reprint", VOL, lambda ids, n: {"seen": ids["number"]}),
    Form("/workshops/parcours/new", VOL, parcours, shows=("/workshops/",), markup=("title", "description")),
    Form("/workshops/parcours/<int:parcours_id>/edit", VOL, parcours, shows=("/workshops/",),
         markup=("title", "description")),
    Form("/workshops/parcours/<int:parcours_id>/enrolments", VOL,
         lambda ids, n: {"beneficiary_id": ids["beneficiary_id"], "host": ids["relay_id"], "q": "Amina"}),
    Form("/workshops/parcours/<int:parcours_id>/people", VOL, lambda ids, n: {
        "first_name": "Yonas", "last_name": f"Tesfaye {n}", "phone": "", "notice_given": "y",
        "confirm_duplicate": "y", "host": ids["relay_id"], "q": ""}, markup=("first_name", "last_name")),
    Form("/workshops/parcours/<int:parcours_id>/enrolments/<int:beneficiary_id>/delete", VOL),
    Form("/workshops/parcours/<int:parcours_id>/sessions/new", VOL, session,
         markup=("commune", "venue")),
    Form("/workshops/sessions/<int:session_id>/edit", VOL,
         lambda ids, n: session(ids, n, clock.today() - timedelta(days=1)),
         shows=("/workshops/sessions/<int:session_id>", "/workshops/sessions/<int:session_id>/sheet"),
         markup=("commune", "venue", "notes")),
    Form("/workshops/sessions/<int:session_id>/duplicate", VOL),
    Form("/workshops/sessions/<int:session_id>/attendance/<int:beneficiary_id>", VOL,
         lambda ids, n: {"status": "present"}),
    Form("/laptops/sessions/<int:session_id>/book", VOL, lambda ids, n: {"laptop_id": [ids["laptop_id"]]}),
    Form("/laptops/sessions/<int:session_id>/<int:laptop_id>/delete", VOL),
    Form("/laptops/sessions/<int:session_id>/hand-out", VOL),
    Form("/laptops/sessions/<int:session_id>/<int:laptop_id>/return", VOL,
         lambda ids, n: {"reset_done": "y", "damage": "Touche Entrée dure", "needs_repair": ""}),
    Form("/workshops/parcours/<int:parcours_id>/certificates", VOL),
    Form("/workshops/parcours/<int:parcours_id>/certificates/<int:beneficiary_id>", VOL),
    Form("/beneficiaries/<int:beneficiary_id>/anonymise", MGR, lambda ids, n: {"confirm": ids["beneficiary_code"]}),
    Form("/sales/<int:sale_id>/void", MGR, lambda ids, n: {"reason": "Erreur de produit", "token": f"annul-{n}"},
         markup=("reason",)),
    Form("/stock/<int:relay_id>/adjust", MGR,
         lambda ids, n: {"product_id": ids["product_id"], "counted": "3", "reason": "Casse"},
         shows=("/stock/<int:relay_id>/movements",), markup=("reason",)),
    Form("/stock/<int:relay_id>/thresholds", MGR, lambda ids, n: {f"threshold_{ids['product_id']}": "2"}),
    # Before the closing: a deposit needs the open session.
    Form("/cash/open", MGR, lambda ids, n: {"opening_float": "20"}),
    Form("/cash/deposit", MGR, lambda ids, n: {"amount": "0,50", "slip_number": f"BD-{n}"}, markup=("slip_number",)),
    Form("/cash/close", MGR, lambda ids, n: {"counted_cash": "5,00", "counted_card": "0", "counted_cheque": "0",
                                             "reason": "Pièce de 2 € perdue"},
         markup=("reason",)),
    Form("/relays/new", COORD, relay, shows=("/relays/",),
         markup=("name", "organisation", "town", "address", "legal_mention")),
    Form("/relays/<int:relay_id>/edit", COORD, lambda ids, n: relay(ids, n, code="OURS"), shows=("/relays/",),
         markup=("name", "organisation", "town", "address", "legal_mention")),
    Form("/catalogue/new", COORD, product, markup=("name",)),
    Form("/catalogue/<int:product_id>/edit", COORD, lambda ids, n: product(ids, n, code=ids["product_code"]),
         shows=("/stock/?relay=<int:relay_id>",), markup=("name",)),
    Form("/stock/deliveries/new", COORD, lambda ids, n: {
        "relay_id": ids["relay_id"], "product_id": ids["product_id"], "note": f"BL-{n}", "quantity": "5",
        "serials": "", "grade": ""}, shows=("/stock/<int:relay_id>/movements",), markup=("note",)),
    Form("/laptops/new", COORD, laptop, markup=("model", "serial", "notes")),
    Form("/laptops/<int:laptop_id>/edit", COORD, lambda ids, n: laptop(ids, n, tag="PC-own"),
         markup=("model", "serial", "notes")),
    Form("/territories/new", ADMIN, lambda ids, n: {"name": f"Territoire {n}"}, markup=("name",)),
    Form("/territories/<int:territory_id>/edit", ADMIN, lambda ids, n: {"name": f"Territoire A {n}"},
         markup=("name",)),
    Form("/users/new", ADMIN, user, markup=("display_name",)),
    Form("/users/<int:user_id>/edit", ADMIN, lambda ids, n: user(ids, n) | {"password": ""},
         markup=("display_name",)),
    Form("/users/<int:user_id>/deactivate", ADMIN),
    Form("/users/<int:user_id>/activate", ADMIN),
    Form("/stock/transfers/new", ADMIN, lambda ids, n: {
        "source_id": ids["relay_id"], "destination_id": ids["other_relay_id"], "product_id": ids["product_id"],
        "quantity": "1"}),
]
ROLES = [ANON, VOL, MGR, COORD, ADMIN]
unique = itertools.count(1)


@pytest.fixture
def signed_in(app, client, login, world, role):
    """The world's ids for the forms of `role`, with the client signed in as that role."""
    users, targets = world
    own = targets["own"]
    ids = own | {
        "volunteer_id": users[VOL].id, "volunteer_email": users[VOL].email,
        "other_relay_id": targets["other"]["relay_id"],
        "product_code": db.session.get(Product, own["product_id"]).code,
        "beneficiary_code": db.session.get(Beneficiary, own["beneficiary_id"]).code,
    }
    app.config["LOGIN_MAX_FAILURES"] = 10**6  # the same address fails hundreds of times on purpose
    if role != ANON:
        assert login(users[role]).status_code == 303
    return ids, users.get(role)


def row_counts() -> dict:
    """The number of rows of every table, in one query."""
    counts = [select(func.count()).select_from(table).scalar_subquery().label(table.name)
              for table in db.metadata.sorted_tables]
    return db.session.execute(select(*counts)).one()._asdict()


def page_text(response) -> str:
    """The text of an HTML or JSON answer; "" for a PDF (its text has tests of its own)."""
    return response.text if response.mimetype in ("text/html", "application/json") else ""


def assert_escaped(response, where: str) -> None:
    lowered = page_text(response).lower()
    for raw in UNESCAPED:
        assert raw not in lowered, f"{where}: {raw!r} is shown unescaped"


def submit(client, form: Form, ids: dict, body: bytes, headers: dict):
    """Post `body` to the form; check the answer, and the pages that show what it stored.
    Returns the answer and the text of those pages."""
    url = build_url(form.rule, ids)
    before = row_counts()
    response = client.post(url, data=body, content_type="application/x-www-form-urlencoded", headers=headers)
    where = f"POST {url} {body[:300]!r}"
    assert response.status_code < 500, f"{where}: {response.status_code}"
    assert_escaped(response, where)
    if response.status_code >= 400:
        after = row_counts()
        written = {name: (n, after[name]) for name, n in before.items() if after[name] != n}
        if form.rule == "/login":
            written.pop("audit_event", None)  # a failed login is recorded: it is what throttling counts
        assert not written, f"{where}: refused ({response.status_code}) but wrote {written}"
        assert 'class="error' in response.text or 'role="alert"' in response.text, f"{where}: no message"
        assert not ENGLISH.search(response.text), f"{where}: {ENGLISH.search(response.text)[0]!r}"
        return response, []
    if b"%3C" not in body.upper():
        return response, []  # no markup stored: nothing to look for on the pages that show it
    pages = [response.headers.get("HX-Redirect") or response.headers.get("Location")]
    pages += [build_url(rule, ids) for rule in form.shows]
    shown = []
    for page in (page for page in pages if page and ".pdf" not in page):  # PDFs: tests of their own
        answer = client.get(page)
        assert answer.status_code < 500, f"{where} then GET {page}: {answer.status_code}"
        assert_escaped(answer, f"{where} then GET {page}")
        shown.append(page_text(answer))
    return response, shown


def sign_in_again(client, login, user) -> None:
    user = db.session.merge(user)
    user.set_password(PASSWORD)
    db.session.commit()
    assert login(user).status_code == 303


@pytest.mark.parametrize("role", ROLES)
# No shrinking: an example posts to every form of a role, and shrinking it takes minutes. The
# failing post is named in the message as it was sent.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_values_in_every_form(app, client, login, signed_in, role, data):
    ids, user = signed_in
    for form in (form for form in FORMS if form.role == role):
        body, headers = data.draw(hostile_body(form.valid(ids, next(unique))), label=form.rule)
        submit(app.test_client() if role == ANON else client, form, ids, body, headers)
        if form.signs_out:
            sign_in_again(client, login, user)


# Bugs the properties found: each value made the database fail (PostgreSQL refuses NUL in text and
# ids beyond its integer, SQLite ids beyond 64 bits), a 500 instead of a message next to the field.
REFUSED = [
    (ANON, "/login", "email", "\x00"),
    (VOL, "/sales/new", "line-0-product", str(10**30)),
    (VOL, "/sales/new", "reference_cheque", "\x00"),
    (VOL, "/sales/new", "override_reason", "\u202e"),
    (VOL, "/laptops/sessions/<int:session_id>/book", "laptop_id", str(10**30)),
    (VOL, "/workshops/parcours/<int:parcours_id>/enrolments", "beneficiary_id", str(10**30)),
    (MGR, "/sales/<int:sale_id>/void", "reason", "\x00"),
    (MGR, "/stock/<int:relay_id>/adjust", "reason", "\x00"),
    (MGR, "/cash/close", "reason", "\x00"),
    (COORD, "/relays/<int:relay_id>/edit", "name", "\x00"),
    (COORD, "/relays/<int:relay_id>/edit", "address", "\x00"),
    (COORD, "/catalogue/new", "name", "\x00"),
    (COORD, "/stock/deliveries/new", "note", "\x00"),
    (COORD, "/stock/deliveries/new", "relay_id", str(10**30)),
    (COORD, "/stock/deliveries/new", "product_id", str(10**30)),
    (ADMIN, "/territories/<int:territory_id>/edit", "name", "\x00"),
    (ADMIN, "/users/new", "display_name", "\x00"),
    (ADMIN, "/stock/transfers/new", "source_id", str(10**30)),
    (ADMIN, "/stock/transfers/new", "product_id", str(10**30)),
]


@pytest.mark.parametrize("role", ROLES)
def test_known_hostile_values(app, client, signed_in, role):
    """Plain cases (one world per role): the values above are refused next to their field, and
    markup typed in every free-text field is stored and shown escaped."""
    ids, _ = signed_in
    forms = {form.rule: form for form in FORMS}
    for rule, field, value in ((rule, field, value) for who, rule, field, value in REFUSED if who == role):
        body = urlencode(forms[rule].valid(ids, next(unique)) | {field: value}, doseq=True).encode()
        response, _ = submit(app.test_client() if role == ANON else client, forms[rule], ids, body, {})
        assert response.status_code == 422, f"{rule} {field}={value!r}: {response.status_code}"
        if not value.isdigit():
            assert HIDDEN_CHARACTERS in response.text, f"{rule} {field}={value!r}: no message"
    for form in (form for form in FORMS if form.role == role and form.markup):
        n = next(unique)
        fields = form.valid(ids, n) | dict.fromkeys(form.markup, f"{SCRIPT} {n}")  # names are unique
        _, shown = submit(client, form, ids, urlencode(fields, doseq=True).encode(), {})
        assert shown, f"{form.rule}: a valid post with markup was refused"
        assert any(ESCAPED_SCRIPT in page for page in shown), f"{form.rule}: the stored markup is not shown"


def test_every_post_route_has_its_form(app):
    posts = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert posts == {form.rule for form in FORMS}


@pytest.mark.parametrize("url", [
    "/sales/99999999999999999999", "/beneficiaries/99999999999999999999", "/sales/?page=99999999999999999999",
    "/sales/new?beneficiary=99999999999999999999", "/stock/?relay=99999999999999999999",
    "/stock/1/movements?product=99999999999999999999&page=99999999999999999999",
    "/workshops/?relay=99999999999999999999&facilitator=99999999999999999999&page=-3",
])
def test_ids_too_big_for_the_database_in_urls_are_no_record(client, login, make_user, url):
    """An id or page beyond the database's integers, in the path or the query string: a 404 or
    the page as if absent, never a crash."""
    login(make_user(Role.MANAGER))
    assert client.get(url).status_code in (200, 404)
