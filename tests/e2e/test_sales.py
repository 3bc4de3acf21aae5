"""The sale journey in a real browser, without JavaScript and with htmx.

A volunteer opens a person's profile and sells them a prepaid SIM (its ICCID typed as a scanner
would) and a 10 € recharge, paid 20 € in cash; the answer to the first "Enregistrer la vente" is
lost on the way back and the volunteer clicks again: exactly one sale is recorded (the form's
one-time token), and the stock drops by one of each. The receipt prints once, as the original,
however often the browser's PDF viewer fetches it; its explicit reprint says DUPLICATA 1. The
manager voids the sale (the stock comes back), closes the till's open session with counted =
expected, and opens a new one in one click (the last closing's cash carried over), so that the
next journey can sell. Every page is axe-core clean.

Then the day of a till: the manager closes the session at 10:00; at 10:05 the volunteer's sale
screen says the till is closed and who can open it, the manager opens it from the sale screen in
one click, the volunteer sells; both closings state their own receipts.
"""
import io
import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.e2e.conftest import log_in


VOLUNTEER = "benevole.spf-gap@relais05.example"
MANAGER = "referent.spf-gap@relais05.example"
RELAY = "SPFGAP"
SIM, RECHARGE = "SIM-PREP", "RECH-10"
SIM_NAME, RECHARGE_NAME = "Carte SIM prépayée", "Recharge 10 €"
NBSP = "\u00a0"
TOTAL = f"10,00{NBSP}€"  # money is written "10,00 €" with a no-break space
GIVEN = f"20,00{NBSP}€"
CODE_FIELD = "Code produit ou n° de série (lecteur)"
GIVEN_FIELD = "Somme donnée en espèces (€)"
RECORD = "Enregistrer la vente"
VOID_REASON = "Erreur de saisie : la personne avait déjà une carte SIM"
REFUND_REASON = "Remboursement d'une vente d'un autre jour : rien de ce moyen de paiement dans la caisse"
COUNTED_FIELDS = {"cash": "Espèces comptées", "card": "Carte bancaire (total des tickets du terminal)",
                  "cheque": "Chèques (total des chèques)", "voucher": "Prises en charge (total des bons)"}
METHOD_LABELS = {"cash": "Espèces", "card": "Carte bancaire", "cheque": "Chèque", "voucher": "Prise en charge"}
SALE_PATH = re.compile(r"/sales/(\d+)$")
CLOSING_PATH = re.compile(r"/cash/(\d+)$")
NUMBER = re.compile(rf"{RELAY}-\d{{4}}-\d{{6}}")
MARKER = "same document"
PRINTED_ON = r"le \d{2}/\d{2}/\d{4} à \d{2}:\d{2} par Bénévole SPF Gap"  # a print, as the sale page lists it


# --- the live app's database (arrange and check; the journey itself goes through the UI) ------

def in_app(live_server, work):
    """work() inside the live app (its database); the session is removed afterwards."""
    with live_server.app.app_context():
        return work()


def pick_person(live_server) -> dict:
    """A person of the relay, eligible today, with no sale today (each journey sells to someone
    else) and the fewest recharges this month (the monthly cap stays far), whose name is in the
    Latin or Cyrillic script (the receipt's text then reads back as typed)."""
    from flask import current_app

    from portal.beneficiaries.models import Beneficiary
    from portal.clock import day_bounds
    from portal.extensions import db
    from portal.relays.models import Relay
    from portal.sales.models import Sale, SaleLine
    from portal import clock

    def work():
        today = clock.today()
        start, end = day_bounds(today)
        month_start = day_bounds(today.replace(day=1))[0]
        relay_id = db.session.scalar(select(Relay.id).where(Relay.code == RELAY))
        recharged = (select(func.coalesce(func.sum(SaleLine.quantity * SaleLine.unit_cents), 0))
                     .join(Sale).where(Sale.beneficiary_id == Beneficiary.id, SaleLine.category == "recharge",
                                       Sale.created_at >= month_start).scalar_subquery())
        rows = db.session.execute(
            select(Beneficiary, recharged).where(
                Beneficiary.relay_id == relay_id, Beneficiary.anonymised_at.is_(None),
                Beneficiary.eligibility_until >= today,
                ~select(Sale.id).where(Sale.beneficiary_id == Beneficiary.id, Sale.created_at >= start,
                                       Sale.created_at < end).exists())
            .order_by(recharged, Beneficiary.id)).all()
        cap = current_app.config["RECHARGE_MONTHLY_CAP_CENTS"]
        for person, spent in rows:
            if all(ord(c) < 0x0530 for c in person.full_name) and spent + 500 <= cap:
                return {"id": person.id, "name": person.full_name, "code": person.code}
        pytest.fail("no eligible person of the demo can buy a recharge today")
    return in_app(live_server, work)


def shop_state(live_server) -> dict:
    """The relay's receipts count, its stock of the SIM and of the recharge, and an ICCID of a SIM
    on its shelf; the product ids."""
    from portal.catalogue.models import Product
    from portal.extensions import db
    from portal.relays.models import Relay
    from portal.sales.models import Sale
    from portal.stock.models import SerialItem, StockLevel

    def work():
        relay_id = db.session.scalar(select(Relay.id).where(Relay.code == RELAY))
        products = dict(db.session.execute(
            select(Product.code, Product.id).where(Product.code.in_([SIM, RECHARGE]))).all())
        stock = dict(db.session.execute(select(StockLevel.product_id, StockLevel.quantity).where(
            StockLevel.relay_id == relay_id, StockLevel.product_id.in_(products.values()))).all())
        iccid = db.session.scalar(select(SerialItem.serial).where(
            SerialItem.relay_id == relay_id, SerialItem.product_id == products[SIM],
            SerialItem.status == "in_stock").order_by(SerialItem.id.desc()).limit(1))
        return {
            "relay_id": relay_id, "products": products, "iccid": iccid,
            "sales": db.session.scalar(select(func.count(Sale.id)).where(Sale.relay_id == relay_id)),
            "sim": stock[products[SIM]], "recharge": stock[products[RECHARGE]],
        }
    return in_app(live_server, work)


def recorded_sale(live_server, sale_id: int) -> dict:
    """The sale as the database holds it: number, token, person, total, void, serial status."""
    from portal.extensions import db
    from portal.sales.models import Sale
    from portal.stock.models import SerialItem

    def work():
        sale = db.session.get(Sale, sale_id)
        serials = [line.serial for line in sale.lines if line.serial]
        return {
            "number": sale.number, "token": sale.form_token, "beneficiary_id": sale.beneficiary_id,
            "total": sale.total_cents, "change": sale.change_cents,
            "prints": [(made.number, made.printed_by.email) for made in sale.prints],
            "void_number": sale.voided_by.number if sale.voided_by else None,
            "lines": sorted((line.label, line.quantity, line.serial) for line in sale.lines),
            "serial_status": [db.session.scalar(select(SerialItem.status).where(SerialItem.serial == s))
                              for s in serials],
        }
    return in_app(live_server, work)


def sales_with_token(live_server, token: str) -> list[int]:
    from portal.extensions import db
    from portal.sales.models import Sale

    return in_app(live_server, lambda: db.session.scalars(select(Sale.id).where(Sale.form_token == token)).all())


def till(live_server, relay_id: int) -> dict | None:
    """The relay's open session and what it should hold, as the portal computes it; None if closed."""
    from portal.cash.operations import open_session_of, session_summary

    def work():
        session = open_session_of(relay_id)
        if session is None:
            return None
        summary = session_summary(session)
        return {"id": session.id, **{key: summary[key] for key in (
            "expected", "sales_count", "first_number", "last_number", "total_cents")}}
    return in_app(live_server, work)


def closed_session(live_server, session_id: int) -> dict:
    """A closed session's times (local) and receipts, as stored."""
    from portal import clock
    from portal.cash.models import CashSession
    from portal.extensions import db
    from portal.sales.models import Sale

    def work():
        session = db.session.get(CashSession, session_id)
        numbers = db.session.scalars(select(Sale.number).where(Sale.cash_session_id == session_id)
                                     .order_by(Sale.seq)).all()
        return {"opened": clock.local_time(session.opened_at).strftime("%H:%M"),
                "closed": clock.local_time(session.closed_at).strftime("%H:%M"), "numbers": numbers,
                "sales_count": session.sales_count, "first": session.first_number, "last": session.last_number}
    return in_app(live_server, work)


def money(live_server, cents: int) -> str:
    from portal.templating import money as format_money

    return in_app(live_server, lambda: format_money(cents))


def typed(cents: int) -> str:
    """Cents as a person types them in an amount field: 1250 → "12,50", -300 → "-3,00"."""
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100},{abs(cents) % 100:02d}"


def counted_for(summary: dict) -> tuple[dict, str]:
    """What the manager counts per method, and the reason for a difference (or "").

    Counted = expected — except that the portal's expected amount is net of the session's refunds
    and may be negative (a refund by card of a sale of an earlier session), while the closing form
    refuses nothing of the sort but the drawer holds no negative money: there the manager counts 0
    and explains the difference."""
    counted = {method: max(summary["expected"][method], 0) for method in COUNTED_FIELDS}
    return counted, (REFUND_REASON if counted != summary["expected"] else "")


def fill_counted(form, counted: dict, reason: str) -> None:
    for method, label in COUNTED_FIELDS.items():
        form.get_by_label(label, exact=True).fill(typed(counted[method]))
    form.get_by_label("Raison de l'écart", exact=True).fill(reason)


def signed(live_server, cents: int) -> str:
    """A difference as the closing pages write it: "+3,00 €"."""
    return ("+" if cents > 0 else "") + money(live_server, cents)


# --- pages --------------------------------------------------------------------------------

def logout(page) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flashes")).to_contain_text("Vous êtes déconnecté·e.")


def set_marker(page) -> None:
    page.evaluate("(m) => { window.e2eNoReload = m; }", MARKER)


def assert_not_reloaded(page) -> None:
    assert page.evaluate("() => window.e2eNoReload") == MARKER, "the page was reloaded"


def assert_fragment(response) -> None:
    assert response.request.headers.get("hx-request-type") == "partial", response.request.headers
    assert "<body" not in response.text(), "a full page came back instead of a fragment"


def assert_full_page(response) -> None:
    assert "hx-request" not in response.request.headers, response.request.headers
    assert "<body" in response.text(), "no whole page came back"


def is_post(path: str):
    return lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith(path)


# Each button of the sale screen posts the form to its own view (formaction, and hx-post with htmx).
ADD_URL, RECALCULATE_URL, RECORD_URL = "/sales/new/lines", "/sales/new/recalculate", "/sales/new"


def open_sale_screen(page, live_server, axe_check, person: dict) -> None:
    """From the person's profile (found by their code), "Nouvelle vente" opens the sale screen
    with the person chosen."""
    page.goto(f"/beneficiaries/?q={person['code']}")
    page.locator("#results").get_by_role("link", name=person["name"]).click()
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/{person['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(person["name"])
    page.locator("main").get_by_role("link", name="Nouvelle vente").click()
    expect(page).to_have_url(f"{live_server.url}/sales/new?beneficiary={person['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle vente")
    who = page.locator("#sale").get_by_role("region", name="Pour qui")
    expect(who).to_contain_text(f"{person['name']} — {person['code']}")
    expect(page.locator("#sale").get_by_text("Le panier est vide.")).to_be_visible()
    expect(page.get_by_role("button", name=RECORD)).to_be_disabled()
    axe_check(page)


def add(page, javascript: bool):
    """Click "Ajouter"; the response. With htmx the sale form swaps in place (a fragment);
    without JavaScript a whole page comes back."""
    if javascript:
        set_marker(page)
    with page.expect_response(is_post(ADD_URL)) as posted:
        page.get_by_role("button", name="Ajouter", exact=True).click()
    response = posted.value
    assert response.status == 200, response.status
    if javascript:
        assert_fragment(response)
        expect(page.get_by_role("button", name="Ajouter", exact=True)).to_have_attribute("data-htmx-powered", "true")
        assert_not_reloaded(page)
    else:
        assert_full_page(response)
    return response


def cart_rows(page):
    return page.locator("#sale").get_by_role("region", name="Panier").locator("tbody tr")


def fill_basket(page, axe_check, state: dict, javascript: bool) -> None:
    """The SIM by its ICCID (as a barcode scanner types it), the recharge from the list; 20 €
    given in cash: 10 € to give back."""
    page.get_by_label(CODE_FIELD, exact=True).fill(state["iccid"])
    add(page, javascript)
    rows = cart_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(SIM_NAME)
    expect(rows.first).to_contain_text(f"n° {state['iccid']}")
    expect(page.get_by_label(CODE_FIELD, exact=True)).to_have_value("")
    expect(page.locator("#total")).to_have_text(f"5,00{NBSP}€")

    product_list = page.get_by_label("ou produit", exact=True)
    option = product_list.locator("option", has_text=RECHARGE_NAME)
    expect(option).to_have_text(re.compile(rf"^{RECHARGE_NAME} — 5,00{NBSP}€ \({state['recharge']} en stock\)$"))
    product_list.select_option(option.get_attribute("value"))
    add(page, javascript)
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text(RECHARGE_NAME)
    expect(page.locator("#total")).to_have_text(TOTAL)
    expect(page.get_by_label("Espèces (€)", exact=True)).to_have_value("10,00")  # cash by default

    given = page.get_by_label(GIVEN_FIELD, exact=True)
    change = page.locator("#sale").get_by_role("status")
    if javascript:  # the change is computed when the field changes (leaving it)
        set_marker(page)
        with page.expect_response(is_post(RECALCULATE_URL)) as posted:
            given.fill("20")
            given.press("Tab")
        response = posted.value
        assert response.status == 200, response.status
        assert_fragment(response)
        assert_not_reloaded(page)
    else:  # "Recalculer": a whole page with the change
        given.fill("20")
        with page.expect_response(is_post(RECALCULATE_URL)) as posted:
            page.get_by_role("button", name="Recalculer").click()
        response = posted.value
        assert response.status == 200, response.status
        assert_full_page(response)
    expect(change).to_have_text(f"À rendre : {TOTAL}")
    expect(page.get_by_label(GIVEN_FIELD, exact=True)).to_have_value("20")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("button", name=RECORD)).to_be_enabled()
    axe_check(page)


def sale_form_fields(page) -> dict[str, str]:
    """The sale form's named fields as the browser submits them (buttons aside)."""
    return {box.get_attribute("name"): box.input_value()
            for box in page.locator("#sale input[name], #sale select[name]").all()}


def record_with_lost_response_nojs(page, live_server, state: dict) -> tuple[int, str]:
    """The form is submitted, the sale is recorded, but its answer never reaches the browser
    (sent here from outside the page, with the page's cookies, which it leaves as they were);
    the volunteer clicks "Enregistrer la vente" again and gets the same sale."""
    fields = sale_form_fields(page)
    token = fields["token"]
    assert token and fields["csrf_token"], fields
    cookies = page.context.cookies()
    lost = page.request.post(RECORD_URL, form=fields, max_redirects=0)
    page.context.clear_cookies()
    page.context.add_cookies(cookies)  # the browser never saw that response
    assert lost.status == 303, (lost.status, lost.text()[:500])
    first_location = lost.headers["location"]
    assert SALE_PATH.search(first_location), first_location
    assert shop_state(live_server)["sales"] == state["sales"] + 1, "the lost submission recorded no sale"

    with page.expect_response(is_post(RECORD_URL)) as posted:
        page.get_by_role("button", name=RECORD).click()
    again = posted.value
    assert again.status == 303, again.status
    assert again.headers["location"] == first_location, "a replayed submission must return the same sale"
    return int(SALE_PATH.search(first_location).group(1)), token


def record_with_lost_response_htmx(page, live_server, state: dict) -> tuple[int, str]:
    """The htmx POST reaches the server (the sale is recorded) but its answer is dropped on the
    way back; the form stays, the volunteer clicks "Enregistrer la vente" again and lands on the
    same sale."""
    token = page.locator("#sale input[name=token]").input_value()
    lost = []

    def lose_the_answer(route):
        request = route.request
        if request.method != "POST" or lost:  # the route is the record view's URL only
            route.continue_()
            return
        cookies = page.context.cookies()
        response = route.fetch(max_redirects=0)  # the server records the sale and answers…
        lost.append((response.status, response.headers, request.headers))
        page.context.clear_cookies()
        page.context.add_cookies(cookies)
        route.abort("connectionreset")  # …but the browser never hears back

    page.route("**/sales/new", lose_the_answer)
    set_marker(page)
    button = page.get_by_role("button", name=RECORD)
    with page.expect_event("requestfailed", lambda r: r.method == "POST" and r.url.endswith("/sales/new")):
        button.click()
    page.unroute("**/sales/new", lose_the_answer)
    assert len(lost) == 1, lost
    expect(button).to_be_enabled()  # htmx gave up on the request: the button works again
    forgive_lost_response(page)
    status, headers, sent = lost[0]
    assert sent.get("hx-request") == "true" and sent.get("x-csrftoken"), sent
    assert status == 204 and SALE_PATH.search(headers.get("hx-redirect", "")), (status, headers)
    first_location = headers["hx-redirect"]
    assert shop_state(live_server)["sales"] == state["sales"] + 1, "the lost submission recorded no sale"

    # Nothing came back: the volunteer still sees the basket.
    assert_not_reloaded(page)
    expect(page).to_have_url(re.compile(r"/sales/new\?beneficiary=\d+$"))
    expect(cart_rows(page)).to_have_count(2)
    with page.expect_response(is_post(RECORD_URL)) as posted:
        button.click()
    again = posted.value
    assert again.status == 204, again.status
    assert again.headers.get("hx-redirect") == first_location, "a replayed submission must return the same sale"
    expect(page).to_have_url(f"{live_server.url}{first_location}")
    assert page.evaluate("() => window.e2eNoReload") is None, "HX-Redirect did not load the sale page"
    return int(SALE_PATH.search(first_location).group(1)), token


# What the browser reports when an answer is dropped: expected in the htmx journey, not a bug.
LOST_ANSWER = [
    re.compile(r"^Failed to load resource: net::ERR_CONNECTION_RESET \[http://[^/]+/sales/new\]$"),
    re.compile(r"^htmx: htmx:error: Failed to fetch\b", re.S),
]


def forgive_lost_response(page) -> None:
    """Drop the console errors that the dropped answer causes (the network error and htmx's
    `htmx:error` log) from the page's watched problems — each exactly once; any other error still
    fails the test (tests/e2e/conftest.py watches the console)."""
    from tests.e2e import conftest as e2e

    problems = e2e._PAGE_PROBLEMS[page]
    for pattern in LOST_ANSWER:
        for _ in range(20):  # console events arrive asynchronously
            problems.flush()
            found = [i for i, m in enumerate(problems.console_errors) if pattern.search(m)]
            if found:
                break
            page.wait_for_timeout(50)
        assert len(found) == 1, (pattern.pattern, problems.console_errors)
        del problems.console_errors[found[0]]


def assert_sale_page(page, person: dict, sale: dict, state: dict, flash: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Vente {sale['number']}")
    expect(page.locator("#flashes")).to_have_text(flash)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(person["name"])
    expect(facts).to_contain_text(person["code"])
    table = page.locator("main table")
    expect(table).to_contain_text(f"{SIM_NAME} — n° {state['iccid']}")
    expect(table).to_contain_text(RECHARGE_NAME)
    expect(table.locator("tfoot td")).to_have_text(TOTAL)
    payments = page.locator("main ul").last
    expect(payments).to_contain_text(f"Espèces : {TOTAL} (donné {GIVEN})")
    expect(payments).to_contain_text(f"Rendu : {TOTAL}")


def pdf_text(response) -> str:
    from pypdf import PdfReader

    assert response.status == 200, response.status
    assert response.headers["content-type"] == "application/pdf", response.headers["content-type"]
    body = response.body()
    assert body.startswith(b"%PDF-"), body[:20]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    return text.replace(NBSP, " ").replace("\u202f", " ")


def print_receipt(page, live_server, axe_check, person: dict, sale: dict) -> None:
    """"Imprimer le reçu" (a form) records the original and opens it in the browser's PDF viewer,
    which fetches it again: still one print, the original. Fetched once more, by a range request
    and by HEAD, it never says DUPLICATA. Back on the sale page, "Réimprimer (DUPLICATA 1)" gives
    the first duplicate, and the page lists both prints."""
    main = page.locator("main")
    expect(main.get_by_role("button", name=re.compile("^Réimprimer"))).to_have_count(0)
    expect(page.locator("dl.facts")).to_contain_text(re.compile(r"Reçu imprimé\s*pas encore"))
    original = f"{live_server.url}/sales/{sale['id']}/prints/0.pdf"
    main.get_by_role("button", name="Imprimer le reçu").click()
    expect(page).to_have_url(original)
    for response in (page.request.get(original), page.request.get(original, headers={"Range": "bytes=0-1023"})):
        text = pdf_text(response)
        for expected in (sale["number"], person["name"], person["code"], SIM_NAME, RECHARGE_NAME, "Total",
                         TOTAL.replace(NBSP, " "), f"donné {GIVEN} · rendu {TOTAL}".replace(NBSP, " ")):
            assert expected in text, f"{expected!r} not in the receipt:\n{text}"
        assert "DUPLICATA" not in text, text
    assert page.request.head(original).status == 200
    assert recorded_sale(live_server, sale["id"])["prints"] == [(0, VOLUNTEER)], "the viewer's fetches counted"

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}")
    printed = page.locator("dl.facts ol.prints li")
    expect(printed).to_have_text([re.compile(rf"^Original — {PRINTED_ON}$")])
    axe_check(page)
    main.get_by_role("button", name="Réimprimer (DUPLICATA 1)").click()
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}/prints/1.pdf")
    duplicate = pdf_text(page.request.get(page.url))
    assert "DUPLICATA 1" in duplicate, duplicate
    assert sale["number"] in duplicate and person["name"] in duplicate
    assert recorded_sale(live_server, sale["id"])["prints"] == [(0, VOLUNTEER), (1, VOLUNTEER)]

    page.go_back()
    expect(main.get_by_role("button", name="Réimprimer (DUPLICATA 2)")).to_be_visible()
    expect(printed).to_have_text([re.compile(rf"^Original — {PRINTED_ON}$"), re.compile(rf"^DUPLICATA 1 — {PRINTED_ON}$")])
    axe_check(page)


def void_as_manager(page, live_server, axe_check, sale: dict, javascript: bool) -> str:
    """The manager opens the sale from the list of sales, voids it with a reason (an empty one
    fails in place first) and is back on the sale page, marked ANNULÉE. The void's number."""
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Ventes").click()
    page.locator("main").get_by_role("link", name=sale["number"], exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}")
    axe_check(page)
    page.locator("main").get_by_role("link", name="Annuler la vente").click()
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}/void")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Annuler la vente {sale['number']} ({TOTAL})")

    if javascript:
        set_marker(page)
    with page.expect_response(is_post(f"/sales/{sale['id']}/void")) as posted:
        page.get_by_role("button", name="Annuler la vente").click()
    assert posted.value.status == 422, posted.value.status
    reason = page.get_by_label("Motif de l'annulation", exact=True)
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#reason-error")).to_have_text("Indiquez le motif de l'annulation.")
    if javascript:
        assert_fragment(posted.value)
        assert_not_reloaded(page)
    axe_check(page)

    reason.fill(VOID_REASON)
    with page.expect_response(is_post(f"/sales/{sale['id']}/void")) as posted:
        page.get_by_role("button", name="Annuler la vente").click()
    assert posted.value.status == (204 if javascript else 303), posted.value.status
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"Vente {sale['number']}")
    expect(heading.locator(".badge")).to_have_text("ANNULÉE")
    void_number = recorded_sale(live_server, sale["id"])["void_number"]
    assert void_number, "no void recorded"
    expect(page.locator("#flashes")).to_have_text(
        f"Vente {sale['number']} annulée par {void_number}. Le stock a été rétabli.")
    expect(page.locator("dl.facts")).to_contain_text(f"{void_number} — {VOID_REASON}")
    expect(page.locator("main").get_by_role("link", name="Annuler la vente")).to_have_count(0)
    axe_check(page)
    return void_number


def close_session_on_page(page, live_server, axe_check, summary: dict, javascript: bool) -> int:
    """From the till page, "Clôturer la session": the expected amounts as the portal computes them,
    typed as counted; the closed session's page states its receipts. axe_check may be None. The
    closed session's id."""
    page.get_by_role("link", name="Clôturer la session").click()
    expect(page).to_have_url(f"{live_server.url}/cash/close")
    form = page.locator("main form")
    expect(form.get_by_role("alert")).to_have_count(0)
    for method, label in METHOD_LABELS.items():
        legend = f"{label} — attendu : {money(live_server, summary['expected'][method])}"
        expect(form.get_by_role("group", name=legend, exact=True)).to_be_visible()
    if summary["sales_count"]:
        expect(form).to_contain_text(f"du n° {summary['first_number']} au n° {summary['last_number']}")
        expect(form).to_contain_text(f"Total de la session : {money(live_server, summary['total_cents'])}")
    counted, reason = counted_for(summary)
    fill_counted(form, counted, reason)
    if axe_check:
        axe_check(page)
    with page.expect_response(is_post("/cash/close")) as posted:
        page.get_by_role("button", name="Clôturer la session").click()
    response = posted.value
    assert response.status == (204 if javascript else 303), (response.status, response.text()[:3000])
    expect(page).to_have_url(CLOSING_PATH)
    expect(page.locator("#flashes")).to_have_text("Session de caisse clôturée.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session clôturée le")
    facts = page.locator("dl.facts")
    if summary["sales_count"]:
        expect(facts).to_contain_text(
            f"{summary['sales_count']}, du n° {summary['first_number']} au n° {summary['last_number']}")
    expect(facts).to_contain_text(f"Total de la session{money(live_server, summary['total_cents'])}")
    differences = page.locator("main table").first.locator("tbody tr td:last-child")  # methods, then total
    expect(differences).to_have_text([signed(live_server, counted[m] - summary["expected"][m])
                                      if counted[m] != summary["expected"][m] else "—" for m in METHOD_LABELS]
                                     + ["—" if not reason else signed(live_server, sum(
                                         counted[m] - summary["expected"][m] for m in METHOD_LABELS))])
    if reason:
        expect(page.locator("main")).to_contain_text(f"Raison de l’écart : {reason}")
    if axe_check:
        axe_check(page)
    return int(CLOSING_PATH.search(page.url).group(1))


def open_session_on_page(page, live_server) -> None:
    """From a closed session's page, back to the till page and "Ouvrir une nouvelle session" (empty
    float: the cash counted at the closing is carried over)."""
    page.get_by_role("link", name="Caisse et sessions clôturées").click()
    expect(page).to_have_url(f"{live_server.url}/cash/")
    page.get_by_role("button", name="Ouvrir une nouvelle session").click()
    expect(page.locator("#flashes")).to_have_text("Caisse ouverte.")
    expect(page.get_by_role("link", name="Clôturer la session")).to_be_visible()


def cash_journey(page, live_server, axe_check, sale: dict, void_number: str, javascript: bool) -> None:
    """The manager closes the open session, counted = expected, and opens the next one."""
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Caisse").click()
    expect(page).to_have_url(f"{live_server.url}/cash/")
    axe_check(page)
    summary = till(live_server, sale["relay_id"])
    assert summary and summary["first_number"] <= sale["number"] < void_number == summary["last_number"], summary
    close_session_on_page(page, live_server, axe_check, summary, javascript)
    assert till(live_server, sale["relay_id"]) is None
    open_session_on_page(page, live_server)
    assert till(live_server, sale["relay_id"])["sales_count"] == 0


# --- the journey --------------------------------------------------------------------------

def sale_journey(page, live_server, axe_check, javascript: bool) -> None:
    state = shop_state(live_server)
    assert till(live_server, state["relay_id"]), "the till is closed: no sale can be recorded"
    person = pick_person(live_server)

    log_in(page, live_server, VOLUNTEER)
    open_sale_screen(page, live_server, axe_check, person)
    fill_basket(page, axe_check, state, javascript)

    record = record_with_lost_response_htmx if javascript else record_with_lost_response_nojs
    sale_id, token = record(page, live_server, state)
    after = shop_state(live_server)
    assert after["sales"] == state["sales"] + 1, "exactly one sale for two submissions"
    assert sales_with_token(live_server, token) == [sale_id]
    assert (after["sim"], after["recharge"]) == (state["sim"] - 1, state["recharge"] - 1), (state, after)
    sale = {"id": sale_id, "relay_id": state["relay_id"], **recorded_sale(live_server, sale_id)}
    assert sale["beneficiary_id"] == person["id"] and sale["total"] == 1000 and sale["change"] == 1000, sale
    assert sale["lines"] == sorted([(SIM_NAME, 1, state["iccid"]), (RECHARGE_NAME, 1, "")]), sale["lines"]
    assert sale["serial_status"] == ["sold"], sale["serial_status"]
    assert NUMBER.fullmatch(sale["number"]), sale["number"]

    expect(page).to_have_url(f"{live_server.url}/sales/{sale_id}")
    # The second click found the sale the lost one recorded; the banner shows once.
    assert_sale_page(page, person, sale, state, f"Cette vente était déjà enregistrée (n° {sale['number']}).")
    page.reload()
    expect(page.locator("#flashes")).to_be_empty()
    print_receipt(page, live_server, axe_check, person, sale)

    logout(page)
    log_in(page, live_server, MANAGER)
    void_number = void_as_manager(page, live_server, axe_check, sale, javascript)
    restored = shop_state(live_server)
    assert (restored["sim"], restored["recharge"]) == (state["sim"], state["recharge"]), "the void returns the stock"
    assert recorded_sale(live_server, sale_id)["serial_status"] == ["in_stock"]
    cash_journey(page, live_server, axe_check, sale, void_number, javascript)


def test_sale_journey_without_javascript(page_nojs, axe_check, live_server):
    sale_journey(page_nojs, live_server, axe_check, javascript=False)


def test_sale_journey_with_htmx(page, axe_check, live_server):
    sale_journey(page, live_server, axe_check, javascript=True)


# --- a closing at 10:00, a sale at 10:05 -------------------------------------------------------

def at_paris(live_server, hour: int, minute: int) -> datetime:
    from portal import clock

    return datetime.combine(in_app(live_server, clock.today), time(hour, minute), tzinfo=ZoneInfo("Europe/Paris"))


def cheque_sale(live_server, person_id: int) -> dict:
    """A recharge paid by cheque, recorded by the volunteer in the open session (as the screen does)."""
    import uuid

    from portal.catalogue.models import Product
    from portal.extensions import db
    from portal.sales.operations import LineRequest, PaymentRequest, record_sale
    from portal.users.models import User

    def work():
        volunteer = db.session.scalar(select(User).where(User.email == VOLUNTEER))
        recharge = db.session.scalar(select(Product).where(Product.code == RECHARGE))
        sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(recharge.id)],
                           [PaymentRequest("cheque", recharge.price_cents, None, "7654321")], person_id)
        return {"id": sale.id, "number": sale.number, "cents": sale.total_cents}
    return in_app(live_server, work)


def refund_in_cash(page, live_server, axe_check, sale: dict) -> None:
    """The manager voids a cheque sale of a closed session: cash is offered first, and chosen."""
    page.goto(f"{live_server.url}/sales/{sale['id']}/void")
    expect(page.get_by_role("radio", name="Espèces")).to_be_checked()  # the cheque is at the bank
    axe_check(page)
    page.get_by_label("Motif de l'annulation", exact=True).fill("Recharge en double")
    page.get_by_role("button", name="Annuler la vente").click()
    expect(page).to_have_url(f"{live_server.url}/sales/{sale['id']}")


def close_at_ten_sell_at_five_past(page, live_server, axe_check, javascript: bool) -> None:
    state = shop_state(live_server)
    with time_machine.travel(at_paris(live_server, 10, 0)):
        log_in(page, live_server, MANAGER)
        page.goto(f"{live_server.url}/cash/")
        first = close_session_on_page(page, live_server, None, till(live_server, state["relay_id"]), javascript)
        logout(page)
    person = pick_person(live_server)
    with time_machine.travel(at_paris(live_server, 10, 5)):
        log_in(page, live_server, VOLUNTEER)
        page.goto(f"{live_server.url}/sales/new?beneficiary={person['id']}")
        expect(page.locator("#till")).to_contain_text(
            "La caisse n'est pas ouverte : demandez à Référente SPF Gap de l'ouvrir.")
        axe_check(page)
        logout(page)
        log_in(page, live_server, MANAGER)
        page.goto(f"{live_server.url}/sales/new?beneficiary={person['id']}")
        axe_check(page)
        page.get_by_role("button", name="Ouvrir la caisse").click()  # the one click
        expect(page.locator("#till")).to_have_count(0)  # the sale form again, the till open
        if not javascript:
            expect(page.locator("#flashes")).to_have_text("Caisse ouverte.")
        assert till(live_server, state["relay_id"])["sales_count"] == 0
        logout(page)
        log_in(page, live_server, VOLUNTEER)
        open_sale_screen(page, live_server, axe_check, person)
        expect(page.locator("#till")).to_have_count(0)
        fill_basket(page, axe_check, shop_state(live_server), javascript)
        page.get_by_role("button", name=RECORD).click()
        expect(page).to_have_url(SALE_PATH)
        sale_number = recorded_sale(live_server, int(SALE_PATH.search(page.url).group(1)))["number"]
        logout(page)
        cheque = cheque_sale(live_server, person["id"])
    with time_machine.travel(at_paris(live_server, 10, 30)):
        log_in(page, live_server, MANAGER)
        page.goto(f"{live_server.url}/cash/")
        second = close_session_on_page(page, live_server, None, till(live_server, state["relay_id"]), javascript)
        open_session_on_page(page, live_server)  # for the tests after this one
        before_refund = till(live_server, state["relay_id"])
    with time_machine.travel(at_paris(live_server, 10, 40)):
        # The cheque of the closed session went to the bank: its refund is in cash, in this session.
        refund_in_cash(page, live_server, axe_check, cheque)
        page.goto(f"{live_server.url}/cash/close")
        refunds = page.get_by_role("table", name="Remboursements de la session")
        expect(refunds).to_contain_text(cheque["number"])
        expect(refunds).to_contain_text("Espèces")
        expect(page.locator("main")).not_to_contain_text("attendu : -")  # nothing expected below zero
        axe_check(page)
        logout(page)
    now = till(live_server, state["relay_id"])
    assert now["expected"]["cheque"] == 0, now
    assert now["expected"]["cash"] == before_refund["expected"]["cash"] - cheque["cents"], now
    before, after = closed_session(live_server, first), closed_session(live_server, second)
    assert before["closed"] == "10:00" and sale_number not in before["numbers"], before
    assert (after["opened"], after["closed"]) == ("10:05", "10:30"), after
    assert after["numbers"] == [sale_number, cheque["number"]] and after["first"] == sale_number, after
    assert after["last"] == cheque["number"] and after["sales_count"] == 2


def test_close_at_ten_and_sell_at_five_past_without_javascript(page_nojs, axe_check, live_server):
    close_at_ten_sell_at_five_past(page_nojs, live_server, axe_check, javascript=False)


def test_close_at_ten_and_sell_at_five_past_with_htmx(page, axe_check, live_server):
    close_at_ten_sell_at_five_past(page, live_server, axe_check, javascript=True)
