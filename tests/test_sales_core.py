"""Recording a sale: one transaction, consecutive numbers, idempotent tokens, stock never negative,
a tamper-evident ledger — on SQLite and PostgreSQL."""
import threading
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import delete, func, select, update

from portal import clock
from portal.errors import Refused
from portal.extensions import db
from portal.ledger.models import LedgerEntry, LedgerHead
from portal.ledger import operations as ledger_operations
from portal.ledger.operations import verify_relay
from portal.sales import operations as sales
from portal.sales.models import ReceiptCounter, Sale
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.security import Role
from portal.stock.models import StockMovement
from portal.stock.operations import stock_level
from portal.users.models import User

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)


@pytest.fixture
def shop(make_user, make_product, make_beneficiary):
    """A volunteer and a manager of one relay, an eligible person, a SIM (10 in stock) and a recharge."""
    volunteer = make_user(Role.VOLUNTEER)
    relay = volunteer.relay
    manager = make_user(Role.MANAGER, relay=relay)
    person = make_beneficiary(relay, "Олена", "Шевченко", eligible_on=clock.today())
    sim = make_product([relay], stock=10, name="Carte SIM", price=500, reference=1000)
    recharge = make_product([relay], stock=100, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    return volunteer, manager, person, sim, recharge


def sell(user, person, *lines, token=None, pay=None, **kwargs):
    lines = [LineRequest(p.id, q) for p, q in lines]
    return record_sale(user, token or uuid.uuid4().hex, lines, pay or [], person.id if person else None, **kwargs)


def cash(amount, given=None):
    return [PaymentRequest("cash", amount, given)]


def test_a_sale_is_numbered_moves_stock_and_is_sealed(shop):
    volunteer, _, person, sim, recharge = shop
    sale = sell(volunteer, person, (sim, 1), (recharge, 1), pay=cash(1500, 2000))
    year = clock.today().year
    assert sale.number == f"{volunteer.relay.code}-{year}-000001"
    assert sale.total_cents == 1500 and sale.change_cents == 500 and sale.reference_total_cents == 2000
    assert stock_level(volunteer.relay_id, sim.id) == 9
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.kind, entry.ref_id, entry.seq) == ("sale", sale.id, 1)
    assert verify_relay(volunteer.relay_id) is None
    second = sell(volunteer, person, (sim, 1), pay=cash(500))
    assert second.number.endswith("-000002")


def test_the_same_token_returns_the_same_sale(shop):
    volunteer, _, person, sim, _ = shop
    first = sell(volunteer, person, (sim, 1), token="T1", pay=cash(500))
    again = sell(volunteer, person, (sim, 1), token="T1", pay=cash(500))
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
    assert stock_level(volunteer.relay_id, sim.id) == 9


# --- concurrency --------------------------------------------------------------------------

def run_concurrently(app, count, work):
    """Run work(i) in `count` threads, each in its own app context (own session, own connection)."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def target(i):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except Exception as error:  # collected and asserted by the test
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.rollback()  # the test's own session: a fresh snapshot, after what the threads committed
    return results, errors


def test_parallel_sales_get_consecutive_numbers(app, shop):
    volunteer, _, person, sim, _ = shop
    user_id, sim_id, person_id = volunteer.id, sim.id, person.id

    def one_sale(i):
        user = db.session.get(User, user_id)
        return record_sale(user, f"par-{i}", [LineRequest(sim_id, 1)], cash(500), person_id).seq

    seqs, errors = run_concurrently(app, 8, one_sale)
    assert errors == []
    assert sorted(seqs) == list(range(1, 9))
    assert stock_level(volunteer.relay_id, sim_id) == 2
    assert db.session.scalar(select(ReceiptCounter.last_seq)) == 8
    assert verify_relay(volunteer.relay_id) is None


def test_the_last_unit_is_sold_exactly_once(app, shop, make_product):
    volunteer, _, person, _, _ = shop
    phone = make_product([volunteer.relay], stock=1, name="Smartphone", category="accessory", price=3000)
    user_id, phone_id, person_id = volunteer.id, phone.id, person.id

    def try_to_sell(i):
        return record_sale(db.session.get(User, user_id), f"last-{i}", [LineRequest(phone_id, 1)],
                           cash(3000), person_id).id

    sold, errors = run_concurrently(app, 6, try_to_sell)
    assert len([s for s in sold if s]) == 1
    assert len(errors) == 5 and all(isinstance(e, Refused) and "Stock insuffisant" in e.message for e in errors)
    assert stock_level(volunteer.relay_id, phone_id) == 0
    assert db.session.scalar(select(ReceiptCounter.last_seq)) == 1  # no number consumed by refusals


def test_the_same_token_twenty_times_at_once_makes_one_sale(app, shop):
    volunteer, _, person, sim, _ = shop
    user_id, sim_id, person_id = volunteer.id, sim.id, person.id

    def submit(i):
        return record_sale(db.session.get(User, user_id), "ONE-TOKEN", [LineRequest(sim_id, 1)],
                           cash(500), person_id).id

    ids, errors = run_concurrently(app, 20, submit)
    assert errors == []
    assert len(set(ids)) == 1
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
    assert stock_level(volunteer.relay_id, sim_id) == 9


# --- all or nothing -----------------------------------------------------------------------

def boom(*args, **kwargs):
    raise RuntimeError("injected failure")


def after(original):
    def step(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("injected failure after the step")
    return step


@pytest.mark.parametrize("step", ["_lock_counter", "sale_problems", "_insert_sale", "move_stock", "_take_stock",
                                  "append_entry"])
def test_a_failure_after_any_step_leaves_nothing_behind(monkeypatch, shop, step):
    volunteer, _, person, sim, _ = shop
    sell(volunteer, person, (sim, 1), pay=cash(500))  # a first sale: state to compare against
    before = (db.session.scalar(select(ReceiptCounter.last_seq)), stock_level(volunteer.relay_id, sim.id),
              db.session.scalar(select(func.count()).select_from(StockMovement)),
              db.session.scalar(select(func.count()).select_from(LedgerEntry)),
              db.session.scalar(select(LedgerHead.last_seq)))
    monkeypatch.setattr(sales, step, after(getattr(sales, step)))
    with pytest.raises(RuntimeError, match="injected"):
        sell(volunteer, person, (sim, 2), pay=cash(1000))
    monkeypatch.undo()
    db.session.expire_all()
    after_failure = (db.session.scalar(select(ReceiptCounter.last_seq)), stock_level(volunteer.relay_id, sim.id),
                     db.session.scalar(select(func.count()).select_from(StockMovement)),
                     db.session.scalar(select(func.count()).select_from(LedgerEntry)),
                     db.session.scalar(select(LedgerHead.last_seq)))
    assert after_failure == before
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
    # and the next sale takes the next number: none was consumed
    assert sell(volunteer, person, (sim, 1), pay=cash(500)).seq == 2
    assert verify_relay(volunteer.relay_id) is None


# --- rules --------------------------------------------------------------------------------

def test_eligibility_is_required_and_must_be_valid(shop, make_beneficiary):
    volunteer, _, person, sim, _ = shop
    with pytest.raises(Refused, match="réservé aux personnes éligibles"):
        sell(volunteer, None, (sim, 1), pay=cash(500))
    person.eligibility_until = clock.today() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(Refused, match="a expiré le"):
        sell(volunteer, person, (sim, 1), pay=cash(500))
    never_checked = make_beneficiary(volunteer.relay, "Yonas", "Tesfay")
    with pytest.raises(Refused, match="n'a pas été vérifiée"):
        sell(volunteer, never_checked, (sim, 1), pay=cash(500))


def test_one_free_emergency_sim_per_person(shop, make_product):
    volunteer, manager, person, _, _ = shop
    free = make_product([volunteer.relay], stock=5, name="SIM d'urgence", category="free_sim", price=0,
                        reference=1000, limit_per_person=1)
    sale = sell(volunteer, person, (free, 1))
    assert sale.total_cents == 0 and [p.method for p in sale.payments] == ["free"]
    with pytest.raises(Refused, match="limite de 1 par personne"):
        sell(volunteer, person, (free, 1))
    # a volunteer's reason does not lift it; a manager's does, and it is recorded
    with pytest.raises(Refused):
        sell(volunteer, person, (free, 1), override_reason="carte perdue")
    lifted = sell(manager, person, (free, 1), override_reason="carte volée, plainte déposée")
    assert lifted.override_reason == "carte volée, plainte déposée"


def test_recharges_are_capped_per_month(shop):
    volunteer, manager, person, _, recharge = shop
    sell(volunteer, person, (recharge, 3), pay=cash(3000))
    with pytest.raises(Refused, match="plafonnées à 30,00 €"):
        sell(volunteer, person, (recharge, 1), pay=cash(1000))


def test_the_recharge_cap_counts_the_local_month(shop):
    volunteer, _, person, _, recharge = shop
    # 28 February, 20:00 in Paris: 30 € of recharges; the portal's March starts at 00:00 Paris,
    # when it is still 28 February in UTC
    with time_machine.travel(datetime(2027, 2, 28, 20, 0, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        person.eligibility_until = date(2027, 12, 31)
        db.session.commit()
        sell(volunteer, person, (recharge, 3), pay=cash(3000))
    with time_machine.travel(datetime(2027, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        assert sell(volunteer, person, (recharge, 1), pay=cash(1000)).number.endswith("-2027-000002")
    with time_machine.travel(datetime(2027, 3, 31, 23, 30, tzinfo=ZoneInfo("Europe/Paris")), tick=False):
        sell(volunteer, person, (recharge, 2), pay=cash(2000))
        with pytest.raises(Refused, match="déjà 30,00 €, reste 0,00 € ce mois-ci"):
            sell(volunteer, person, (recharge, 1), pay=cash(1000))


@pytest.mark.parametrize("payments, message", [
    ([], "Indiquez le paiement."),
    ([PaymentRequest("cash", 400)], "ne correspondent pas au total"),
    ([PaymentRequest("cash", 500, 300)], "inférieure au montant dû"),
    ([PaymentRequest("cheque", 500)], "Chèque : indiquez « Numéro du chèque »."),
    ([PaymentRequest("voucher", 500, reference=" ")], "Prise en charge : indiquez « Organisme qui paie"),
    ([PaymentRequest("bitcoin", 500)], "Moyen de paiement"),
    ([PaymentRequest("card", -500), PaymentRequest("cash", 1000)], "Moyen de paiement"),
])
def test_payments_must_settle_the_total(shop, payments, message):
    volunteer, _, person, sim, _ = shop
    with pytest.raises(Refused, match=message):
        sell(volunteer, person, (sim, 1), pay=payments)
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


def test_several_payment_methods_in_one_sale(shop):
    volunteer, _, person, sim, _ = shop
    sale = sell(volunteer, person, (sim, 3), pay=[PaymentRequest("card", 1000), PaymentRequest("cash", 500, 1000)])
    assert [(p.method, p.amount_cents) for p in sale.payments] == [("card", 1000), ("cash", 500)]
    assert sale.change_cents == 500


def test_the_screen_and_the_recording_share_one_list_of_problems(shop):
    """sale_problems names every problem of a draft; record_sale refuses with the first, unchanged."""
    from portal.sales.rules import Problem, offer, sale_problems

    volunteer, _, person, sim, recharge = shop
    person.eligibility_until = clock.today() - timedelta(days=1)
    db.session.commit()
    lines = [LineRequest(sim.id, 11), LineRequest(recharge.id, 4)]
    problems = sale_problems(volunteer, person, offer(volunteer.relay_id), lines)
    assert [problem.field for problem in problems] == ["beneficiary_id", "override_reason", "line-0-quantity"]
    assert problems[2] == Problem("Stock insuffisant : Carte SIM.", "line-0-quantity")
    assert "reste 30,00 € ce mois-ci" in problems[1].message
    with pytest.raises(Refused) as refused:
        sell(volunteer, person, (sim, 11), (recharge, 4), pay=cash(9500))
    assert (refused.value.message, refused.value.field) == (problems[0].message, problems[0].field)


def test_products_of_other_relays_cannot_be_sold(shop, make_product, make_relay):
    volunteer, _, person, _, _ = shop
    elsewhere = make_product([make_relay()], stock=5)
    with pytest.raises(Refused, match="n'est pas proposé"):
        sell(volunteer, person, (elsewhere, 1), pay=cash(500))


# --- voids --------------------------------------------------------------------------------

def test_a_void_is_a_new_negative_linked_sale_that_returns_stock(shop):
    volunteer, manager, person, sim, _ = shop
    sale = sell(volunteer, person, (sim, 2), pay=cash(1000))
    with pytest.raises(Refused, match="référent"):
        void_sale(volunteer, sale, "erreur", "V1")
    with pytest.raises(Refused, match="motif"):
        void_sale(manager, sale, "  ", "V1")
    void = void_sale(manager, sale, "erreur de produit", "V1")
    assert void.seq == 2 and void.total_cents == -1000 and void.voids_sale_id == sale.id
    assert [line.quantity for line in void.lines] == [-2]
    assert stock_level(volunteer.relay_id, sim.id) == 10
    assert sale.total_cents == 1000 and sale.voided_by.id == void.id  # the original is untouched
    assert void_sale(manager, sale, "erreur de produit", "V1").id == void.id  # replay
    with pytest.raises(Refused, match="déjà annulée"):
        void_sale(manager, sale, "encore", "V2")
    assert verify_relay(volunteer.relay_id) is None


# --- ledger tampering ---------------------------------------------------------------------

@pytest.fixture(params=["one batch", "batches of two"])
def three_sales(shop, request, monkeypatch):
    """Three sealed sales; the ledger read whole, or two entries at a time (as a long one is)."""
    if request.param == "batches of two":
        monkeypatch.setattr(ledger_operations, "VERIFY_BATCH", 2)
    volunteer, _, person, sim, _ = shop
    return volunteer.relay_id, [sell(volunteer, person, (sim, 1), pay=cash(500)) for _ in range(3)]


def test_altering_an_amount_is_named(three_sales):
    relay_id, sales_ = three_sales
    db.session.execute(update(Sale).where(Sale.id == sales_[1].id).values(total_cents=1))
    db.session.commit()
    assert verify_relay(relay_id).startswith("écriture n° 2 (sale")
    assert "modifiée après son enregistrement" in verify_relay(relay_id)


def test_altering_a_sealed_payload_is_named(three_sales):
    relay_id, _ = three_sales
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.seq == 2))
    entry.payload = entry.payload.replace('"total":500', '"total":50')
    db.session.commit()
    assert "écriture n° 2" in verify_relay(relay_id) and "empreinte invalide" in verify_relay(relay_id)


def test_deleting_a_middle_entry_is_named(three_sales):
    relay_id, _ = three_sales
    db.session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 2))
    db.session.commit()
    assert verify_relay(relay_id) == "écriture n° 2 manquante (la suivante est la n° 3)"


def test_deleting_the_last_entry_is_named(three_sales):
    relay_id, _ = three_sales
    db.session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 3))
    db.session.commit()
    assert verify_relay(relay_id) == "écriture n° 3 manquante (la dernière connue est la n° 3)"


def test_deleting_the_last_entry_and_rewinding_the_head_is_still_found(three_sales):
    relay_id, sales_ = three_sales
    second = db.session.scalar(select(LedgerEntry).where(LedgerEntry.seq == 2))
    db.session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 3))
    db.session.execute(update(LedgerHead).values(last_seq=2, last_mac=second.mac))
    db.session.commit()
    assert verify_relay(relay_id) == f"sale #{sales_[2].id} absente du registre (écriture supprimée ?)"


def test_inserting_an_entry_is_named(three_sales):
    relay_id, _ = three_sales
    db.session.execute(update(LedgerEntry).where(LedgerEntry.seq == 3).values(seq=4))
    second = db.session.scalar(select(LedgerEntry).where(LedgerEntry.seq == 2))
    db.session.add(LedgerEntry(relay_id=relay_id, seq=3, kind="sale", ref_id=999, format_version=1,
                               payload=second.payload, prev_mac=second.mac, mac="0" * 64))
    db.session.commit()
    assert verify_relay(relay_id).startswith("écriture n° 3")


def test_verify_ledger_command(runner, three_sales):
    relay_id, sales_ = three_sales
    ok = runner.invoke(args=["verify-ledger"])
    assert ok.exit_code == 0 and "INTACT" in ok.output
    db.session.execute(update(Sale).where(Sale.id == sales_[0].id).values(total_cents=0))
    db.session.commit()
    broken = runner.invoke(args=["verify-ledger"])
    assert broken.exit_code == 1 and "ROMPU : écriture n° 1" in broken.output


def test_no_sale_nor_void_without_an_open_session(shop):
    from tests.test_cash import close_till

    volunteer, manager, person, sim, _ = shop
    sale = sell(volunteer, person, (sim, 1), pay=cash(500))
    close_till(manager, reopen=False)
    with pytest.raises(Refused, match="La caisse n'est pas ouverte"):
        sell(volunteer, person, (sim, 1), pay=cash(500))
    with pytest.raises(Refused, match="La caisse n'est pas ouverte"):
        void_sale(manager, sale, "erreur", "V-closed")
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1


def test_coordinators_see_each_relays_ledger_status(client, login, make_user, three_sales):
    relay_id, sales_ = three_sales
    login(make_user(Role.COORDINATOR, territory=db.session.get(User, sales_[0].user_id).relay.territory))
    assert "intact" in client.get(f"/relays/{relay_id}").text
    db.session.execute(update(Sale).where(Sale.id == sales_[1].id).values(total_cents=1))
    db.session.commit()
    page = client.get(f"/relays/{relay_id}").text
    assert "ROMPU" in page and "écriture n° 2" in page
