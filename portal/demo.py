"""The Hautes-Alpes demo: the real relays, five accounts, people, catalogue, stock, a few weeks
of sales and closed days — all written through the same operations as the UI."""
import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import clock
from .extensions import db
from .relays.models import Relay, Territory
from .security import Role
from .users.models import User

DEMO_PASSWORD = "demo-relais-05"

# (code, name, host organisation, town, address)
DEMO_RELAYS = [
    ("SPFGAP", "Secours Populaire Gap", "Secours populaire français", "Gap", "Gap (05000)"),
    ("SPFEMB", "Secours Populaire Embrun", "Secours populaire français", "Embrun", "Embrun (05200)"),
    ("CADAGAP", "CADA Gap – France Terre d'Asile", "France Terre d'Asile", "Gap", "Gap (05000)"),
    ("CADABRI", "CADA Briançon – Fondation Edith Seltzer", "Fondation Edith Seltzer", "Briançon", "Briançon (05100)"),
    ("APPASE", "APPASE Briançon", "APPASE (accueil de jour)", "Briançon", "Briançon (05100)"),
    ("REFUGES", "Refuges Solidaires Briançon", "Refuges Solidaires", "Briançon", "Briançon (05100)"),
    ("CIDFF05", "CIDFF 05 Gap", "CIDFF des Hautes-Alpes", "Gap", "Gap (05000)"),
    ("ENVSOL", "Environnement et Solidarité", "Chantier d'insertion", "Gap", "Gap (05000)"),
    ("EQMOB", "Équipe mobile numérique 05", "Relais Numériques des Hautes-Alpes", "Gap", "Gap (05000)"),
]

# (email, display name, role, relay code or None)
DEMO_USERS = [
    ("admin@relais05.example", "Administration", Role.ADMIN, None),
    ("coordination@relais05.example", "Coordination Hautes-Alpes", Role.COORDINATOR, None),
    ("referent.spf-gap@relais05.example", "Référente SPF Gap", Role.MANAGER, "SPFGAP"),
    ("benevole.spf-gap@relais05.example", "Bénévole SPF Gap", Role.VOLUNTEER, "SPFGAP"),
    ("benevole.cada-briancon@relais05.example", "Bénévole CADA Briançon", Role.VOLUNTEER, "CADABRI"),
    # Every relay that sells has a manager: only a manager opens and closes its till.
    ("referent.cada-briancon@relais05.example", "Référent CADA Briançon", Role.MANAGER, "CADABRI"),
]


DEMO_NAMES = {
    "fr": ["Marie Martin", "Sylvie Garnier", "Kévin Roux", "Nathalie Faure", "Gérard Blanc", "Chantal Bonnet",
           "Mickaël Arnaud", "Océane Girard", "Josiane Chabert", "Jean-Luc Eyraud"],
    "uk": ["Олена Шевченко", "Андрій Коваленко", "Ірина Бондаренко", "Максим Ткаченко", "Наталія Кравченко",
           "Оксана Мельник"],
    "af": ["محمد نادری", "فرشته احمدزی", "Mohammad Naderi", "Zahra Hosseini", "Ahmad Karimi", "Farid Sultani",
           "Gul Ahmad Wardak"],
    "er": ["ሰላም ተስፋይ", "ኤርምያስ ገብረመድህን", "Yonas Tesfay", "Selam Haile", "Mehari Gebremedhin", "Senait Kidane"],
    "gn": ["Mamadou Diallo", "Fatoumata Barry", "Alpha Camara", "Aïssatou Bah", "Ibrahima Sow", "Mariama Baldé"],
}
DEMO_LANGUAGES = {"fr": "français", "uk": "ukrainien, russe", "af": "dari, pachto", "er": "tigrinya, amharique",
                  "gn": "peul, soussou, français"}


def seed_demo_beneficiaries(relay: Relay, author: User | None, count: int, mix: list[str], rng,
                            near_duplicates: bool = False) -> None:
    """People of a relay through the same operations as the onboarding form."""
    from .beneficiaries.models import Beneficiary
    from .beneficiaries.operations import create_beneficiary, verify_eligibility

    today = clock.today()
    for i in range(count):
        origin = mix[i % len(mix)]
        first, _, last = rng.choice(DEMO_NAMES[origin]).partition(" ")
        basis = {"fr": "minimum_benefits", "uk": "asylum", "gn": "asylum"}.get(origin, "asylum")
        person = Beneficiary(
            first_name=first, last_name=last, languages=DEMO_LANGUAGES[origin], commune=relay.town,
            birth_year=rng.randint(1955, 2006), need_connection=True, need_skills=rng.random() < .6,
            need_equipment=rng.random() < .3, autonomy="".join(rng.choice("01") for _ in range(3)),
            phone=f"+336{rng.randint(10_000_000, 99_999_999)}" if rng.random() < .7 else None,
            eligibility_basis=basis if i % 7 else "",
            referrer_type="cada" if relay.code.startswith("CADA") else "",
            notice_given_on=today, notice_version="2026-11",
        )
        create_beneficiary(person, author, relay.id)
        if person.eligibility_basis:
            # valid, expiring within 30 days, or expired
            verify_eligibility(person, author, today - timedelta(days=rng.choice([20, 60, 150, 260, 300, 330])))
    # near-duplicates, as typed by two volunteers on two different days
    pairs = (("Aïssatou", "Bah"), ("Aissatou", "BAH"), ("Mamadou", "Diallo"), ("Mamadou", "DIALLO "))
    for first, last in pairs if near_duplicates else ():
        create_beneficiary(Beneficiary(first_name=first, last_name=last.strip(), languages="peul",
                                       notice_given_on=today, notice_version="2026-11"), author, relay.id)
    db.session.commit()


def seed_demo() -> bool:
    """Create the Hautes-Alpes demo; False (and nothing written) when the database has data."""
    if db.session.scalar(select(Relay.id).limit(1)) is not None:
        return False
    territory = Territory(name="Hautes-Alpes")
    db.session.add(territory)
    relays = {}
    for code, name, organisation, town, address in DEMO_RELAYS:
        relays[code] = Relay(code=code, name=name, organisation=organisation, town=town,
                             address=address, territory=territory,
                             legal_mention="Association loi 1901 non assujettie à la TVA (art. 261-7-1° du CGI).",
                             receipt_format="80mm" if code == "REFUGES" else "A5")
        db.session.add(relays[code])
    for email, name, role, relay_code in DEMO_USERS:
        user = User(email=email, display_name=name, role=role,
                    relay=relays.get(relay_code),
                    territory=territory if role == Role.COORDINATOR else None)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    db.session.commit()
    rng = random.Random(5)  # the same demo every time
    volunteers = {u.relay.code: u for u in db.session.scalars(select(User).where(User.role == Role.VOLUNTEER))}
    seed_demo_beneficiaries(relays["SPFGAP"], volunteers["SPFGAP"], 30, ["fr", "uk", "af", "gn", "fr"], rng,
                            near_duplicates=True)
    seed_demo_beneficiaries(relays["CADABRI"], volunteers["CADABRI"], 30, ["af", "er", "gn", "uk"], rng)
    for code in ("CADAGAP", "REFUGES", "APPASE", "SPFEMB"):
        seed_demo_beneficiaries(relays[code], None, 4, ["er", "af", "gn"], rng)  # no account there yet
    seed_demo_shop(relays, rng)
    seed_demo_workshops(relays, rng)
    seed_demo_laptops(territory, relays, rng)
    return True


# (code, name, category, price, reference, tracking, eligibility required, limit per person, relays)
SIM_RELAYS = ("SPFGAP", "SPFEMB", "CADAGAP", "CADABRI", "APPASE", "REFUGES")
DEMO_PRODUCTS = [
    ("SIM-PREP", "Carte SIM prépayée", "sim", 500, 1000, "iccid", True, None, SIM_RELAYS),
    ("SIM-URG", "Carte SIM d'urgence", "free_sim", 0, 1000, "iccid", True, 1, ("CADAGAP", "CADABRI", "REFUGES")),
    ("RECH-10", "Recharge 10 €", "recharge", 500, 1000, "none", True, None, SIM_RELAYS),
    ("FORF-1M", "Forfait 1 mois 20 Go", "plan", 300, 999, "none", True, None, SIM_RELAYS),
    ("TEL-A", "Smartphone reconditionné", "smartphone", 4000, 15000, "imei", True, 1, ("SPFGAP", "SPFEMB")),
    ("PC-B", "Ordinateur portable reconditionné", "laptop", 6000, 25000, "serial", True, 1, ("SPFGAP",)),
    ("CHARG", "Chargeur USB", "accessory", 300, 1200, "none", False, None, SIM_RELAYS),
]


OFFERED_BY = {code: relays for code, *_, relays in DEMO_PRODUCTS}


def _with_luhn(digits: str) -> str:
    from stdnum import luhn

    return digits + luhn.calc_check_digit(digits)


def seed_demo_shop(relays: dict, rng) -> None:
    """Catalogue, deliveries from the coordination, three weeks of sales, one void, closed days."""
    from .catalogue.models import Product, ProductOffer
    from .stock.operations import deliver

    coordinator = db.session.scalar(select(User).where(User.role == Role.COORDINATOR))
    products = {}
    for code, name, category, price, reference, tracking, eligible, limit, offered in DEMO_PRODUCTS:
        product = Product(code=code, name=name, category=category, price_cents=price, reference_cents=reference,
                          tracking=tracking, eligibility_required=eligible, limit_per_person=limit)
        db.session.add(product)
        db.session.flush()
        db.session.add_all(ProductOffer(product_id=product.id, relay_id=relays[c].id) for c in offered)
        products[code] = product
    db.session.commit()
    for code, product in products.items():
        for relay_code in OFFERED_BY[code]:
            note = f"BL-2026-{rng.randint(100, 999)}"
            if product.tracking == "iccid":
                serials = [_with_luhn(f"893315{rng.randrange(10**12):012d}") for _ in range(40)]
            elif product.tracking == "imei":
                serials = [_with_luhn(f"35{rng.randrange(10**12):012d}") for _ in range(6)]
            elif product.tracking == "serial":
                serials = [f"PF{rng.randrange(10**6):06d}" for _ in range(3)]
            else:
                serials = []
            deliver(coordinator, relays[relay_code].id, product, note, 200, serials,
                    grade="A" if product.category in ("smartphone", "laptop") else "")
    for relay_code in ("SPFGAP", "CADABRI"):
        _seed_demo_sales(relays[relay_code], products, rng)


def _seed_demo_sales(relay, products: dict, rng) -> None:
    """Three weeks of weekday sales through record_sale, each day in a cash session opened in the
    morning and closed in the evening (a difference, a bank deposit); a void; today's session is
    left open, so that the demo can sell at once."""
    from .cash.operations import close_session, open_session, record_deposit, session_summary
    from .sales.operations import void_sale

    manager = db.session.scalar(select(User).where(User.relay_id == relay.id, User.role == Role.MANAGER))
    paris, today = clock.zone(), clock.today()

    def at(day, hour, minute=0):
        return datetime.combine(day, time(hour, minute), paris).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    days = [today - timedelta(days=n) for n in range(21, 0, -1) if (today - timedelta(days=n)).weekday() < 5]
    first_sale = None
    for i, day in enumerate(days):
        session = open_session(manager, 5000 if i == 0 else None, carry_over=i > 0, at=at(day, 8, 45))
        first_of_day = _demo_day_of_sales(relay, products, rng, day, at)
        first_sale = first_sale or first_of_day
        expected = session_summary(session)["expected"]
        if i in (4, 11) and expected["cash"] > 2000:
            record_deposit(manager, expected["cash"] - 2000, f"BD-{relay.code}-{i:03d}", at=at(day, 17, 30))
            expected = session_summary(session)["expected"]
        counted, reason = dict(expected), ""
        if i == 3 and counted.get("cash"):
            counted["cash"] -= 50
            reason = "Pièce de 50 centimes rendue en trop"
        close_session(manager, counted, {}, reason, at=at(day, 18, 30))
    open_session(manager, carry_over=True, at=min(clock.utcnow(), at(today, 8, 45)))
    if first_sale:  # three weeks later: refunded in cash from today's till
        void_sale(manager, first_sale, "Erreur de produit : la personne voulait une recharge",
                  f"demo-void-{relay.code}")


def _demo_day_of_sales(relay, products: dict, rng, day, at):
    """A day's 2 to 5 sales at the relay's counter; the first one recorded, or None."""
    from .beneficiaries.models import Beneficiary
    from .errors import Refused
    from .sales.operations import LineRequest, PaymentRequest, record_sale
    from .stock.models import SerialItem

    volunteer = db.session.scalar(select(User).where(User.relay_id == relay.id, User.role == Role.VOLUNTEER))
    people = db.session.scalars(select(Beneficiary).where(
        Beneficiary.relay_id == relay.id, Beneficiary.eligibility_until >= clock.today())).all()
    first = None
    for n in range(rng.randint(2, 5)):
        person = rng.choice(people)
        basket = rng.choice([["SIM-PREP", "RECH-10"], ["RECH-10"], ["FORF-1M"], ["SIM-URG"], ["CHARG"],
                             ["TEL-A"], ["RECH-10", "CHARG"]])
        lines = []
        for code in basket:
            product = products[code]
            if relay.code not in OFFERED_BY[code]:
                continue
            serial = ""
            if product.tracking != "none":
                item = db.session.scalar(select(SerialItem).where(
                    SerialItem.relay_id == relay.id, SerialItem.product_id == product.id,
                    SerialItem.status == "in_stock").limit(1))
                serial = item.serial if item else ""
            lines.append(LineRequest(product.id, 1, serial))
        total = sum(products_by_id(products)[line.product_id].price_cents for line in lines)
        method = rng.choice(["cash", "cash", "card", "cheque"])
        payments = [PaymentRequest(method, total, total + rng.choice([0, 0, 500, 1000]) if method == "cash" else None,
                                   f"{rng.randint(1000000, 9999999)}" if method == "cheque" else "")]
        try:
            sale = record_sale(volunteer, f"demo-{relay.code}-{day}-{n}", lines, payments, person.id,
                               at=at(day, 9 + 2 * n, rng.randint(0, 59)))
        except Refused:
            continue  # a limit reached (one free SIM, the monthly recharge cap…): as at the counter
        first = first or sale
    return first


def products_by_id(products: dict) -> dict:
    return {product.id: product for product in products.values()}


# (relay code, facilitator's role, title, level, themes, [(days from today, commune, venue)], laptops)
DEMO_PARCOURS = [
    ("SPFGAP", Role.MANAGER, "Premiers pas sur smartphone", "beginner", "smartphone,messaging,security",
     [(-14, "Gap", "Local du Secours Populaire"), (-7, "Gap", "Local du Secours Populaire"),
      (7, "Gap", "Local du Secours Populaire"), (14, "Gap", "Local du Secours Populaire")], 0),
    ("CADABRI", Role.VOLUNTEER, "Démarches en ligne", "intermediate", "procedures,email,documents,security",
     [(-21, "Briançon", "Locaux du CADA"), (-14, "Névache", "Salle des fêtes"),
      (-7, "Briançon", "Locaux du CADA"), (7, "Briançon", "Locaux du CADA")], 6),
]


def seed_demo_workshops(relays: dict, rng) -> None:
    """The mobile team, two parcours with their sessions (one at Névache), enrolments, the
    attendance of past sessions and the certificates issued — through the workshops' operations."""
    from .beneficiaries.models import Beneficiary
    from .certificates.operations import issue_group
    from .workshops.models import Parcours, WorkshopSession
    from .workshops.operations import enrol, record_attendance, save_parcours, save_session

    relays["EQMOB"].is_mobile_team = True  # no account in the demo: its facilitators come later
    db.session.commit()
    today = clock.today()
    for code, role, title, level, themes, sessions, laptops in DEMO_PARCOURS:
        relay = relays[code]
        facilitator = db.session.scalar(select(User).where(User.relay_id == relay.id, User.role == role))
        parcours = Parcours(relay_id=relay.id, title=title, level=level, themes=themes,
                            planned_sessions=len(sessions), description="Un parcours gratuit en petit groupe.")
        save_parcours(parcours, facilitator)
        planned = []
        for days, commune, venue in sessions:
            session = WorkshopSession(day=today + timedelta(days=days), start_time=time(14), duration_minutes=120,
                                      commune=commune, venue=venue, host_relay_id=relay.id,
                                      facilitator_id=facilitator.id, capacity=8, laptops_planned=laptops)
            save_session(session, parcours, facilitator)
            planned.append(session)
        people = db.session.scalars(select(Beneficiary).where(Beneficiary.relay_id == relay.id)
                                    .order_by(Beneficiary.id).limit(6)).all()
        for person in people:
            enrol(parcours, person.id, relay.id, facilitator)
        for session in planned:
            if session.day >= today:
                continue
            for person in people:
                status = rng.choice(["present"] * 6 + ["absent", "excused"])
                record_attendance(session, person, status, facilitator)
        issue_group(parcours, facilitator)


LAPTOP_MODELS = ("Lenovo ThinkPad T480 (reconditionné)", "Dell Latitude 5490 (reconditionné)",
                 "HP EliteBook 840 G5 (reconditionné)")


def seed_demo_laptops(territory: Territory, relays: dict, rng) -> None:
    """The territory's 24 loaned laptops (one under repair); the CADA Briançon parcours books them:
    handed out and returned reset after its past sessions (one came back damaged), booked for the
    next one."""
    from .laptops.models import Laptop
    from .laptops.operations import book_laptops, hand_out_laptops, return_laptop, save_laptop
    from .workshops.models import WorkshopSession

    coordinator = db.session.scalar(select(User).where(User.role == Role.COORDINATOR))
    fleet = []
    for n in range(1, 25):
        fleet.append(save_laptop(Laptop(territory_id=territory.id, state="available"), {
            "tag": f"PC-{n:02d}", "model": LAPTOP_MODELS[n % len(LAPTOP_MODELS)],
            "serial": f"SN{rng.randint(10**7, 10**8 - 1)}", "state": "available", "notes": ""}, coordinator))
    volunteer = db.session.scalar(select(User).where(User.relay_id == relays["CADABRI"].id))
    sessions = db.session.scalars(select(WorkshopSession).where(
        WorkshopSession.relay_id == relays["CADABRI"].id).order_by(WorkshopSession.day)).all()
    last_past = max((s for s in sessions if s.day < clock.today()), key=lambda s: s.day)
    for session in sessions:
        laptops = [laptop for laptop in fleet if laptop.state == "available"][:session.laptops_planned]
        book_laptops(session, [laptop.id for laptop in laptops], volunteer)
        if session.day >= clock.today():
            continue
        hand_out_laptops(session, volunteer)
        for laptop in laptops:
            damaged = session is last_past and laptop is laptops[-1]
            return_laptop(session, laptop.id, volunteer, reset_done=not damaged,
                          damage="Touche Entrée arrachée, écran rayé" if damaged else "", needs_repair=damaged)
    save_laptop(fleet[-1], {"state": "repair", "notes": "Batterie à changer"}, coordinator)
