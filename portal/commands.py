"""flask CLI commands: seed-demo, create-user."""
import click
from flask import Flask
from sqlalchemy import select

from .extensions import db
from .relays.models import Relay, Territory
from .security import ROLES, Role
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
]

# (email, display name, role, relay code or None)
DEMO_USERS = [
    ("admin@relais05.example", "Administration", Role.ADMIN, None),
    ("coordination@relais05.example", "Coordination Hautes-Alpes", Role.COORDINATOR, None),
    ("referent.spf-gap@relais05.example", "Référente SPF Gap", Role.MANAGER, "SPFGAP"),
    ("benevole.spf-gap@relais05.example", "Bénévole SPF Gap", Role.VOLUNTEER, "SPFGAP"),
    ("benevole.cada-briancon@relais05.example", "Bénévole CADA Briançon", Role.VOLUNTEER, "CADABRI"),
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
    from datetime import date, timedelta

    from .beneficiaries.models import Beneficiary
    from .beneficiaries.operations import create_beneficiary, verify_eligibility

    today = date.today()
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
    import random

    rng = random.Random(5)  # the same demo every time
    volunteers = {u.relay.code: u for u in db.session.scalars(select(User).where(User.role == Role.VOLUNTEER))}
    seed_demo_beneficiaries(relays["SPFGAP"], volunteers["SPFGAP"], 30, ["fr", "uk", "af", "gn", "fr"], rng,
                            near_duplicates=True)
    seed_demo_beneficiaries(relays["CADABRI"], volunteers["CADABRI"], 30, ["af", "er", "gn", "uk"], rng)
    for code in ("CADAGAP", "REFUGES", "APPASE", "SPFEMB"):
        seed_demo_beneficiaries(relays[code], None, 4, ["er", "af", "gn"], rng)  # no account there yet
    return True


@click.command("seed-demo")
def seed_demo_command():
    """Fill an empty database with the Hautes-Alpes demo."""
    if seed_demo():
        click.echo("Démonstration Hautes-Alpes créée.")
    else:
        click.echo("La base contient déjà des données : démonstration non ajoutée.")
    demo_emails = [email for email, *_ in DEMO_USERS]
    if db.session.scalar(select(User.id).where(User.email.in_(demo_emails)).limit(1)) is None:
        return
    click.echo(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
    for email, _, role, relay_code in DEMO_USERS:
        click.echo(f"  {email:42} {Role.LABELS[role]}" + (f" — {relay_code}" if relay_code else ""))


@click.command("create-user")
@click.argument("email")
@click.option("--name", required=True, help="Nom affiché.")
@click.option("--role", type=click.Choice(ROLES), default=Role.ADMIN, show_default=True)
@click.option("--relay", "relay_code", help="Code de la structure (bénévole, référent·e).")
@click.option("--territory", "territory_name", help="Territoire (coordinateur·rice).")
@click.password_option(help="Demandé s'il n'est pas donné.")
def create_user_command(email, name, role, relay_code, territory_name, password):
    """Create an account (the first admin of a new installation, typically)."""
    from .auth.forms import password_problem

    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    user = User(email=email.strip().lower(), display_name=name, role=role)
    if relay_code:
        user.relay = db.session.scalar(select(Relay).filter_by(code=relay_code.upper()))
        if user.relay is None:
            raise click.ClickException(f"Aucune structure avec le code {relay_code}.")
    if territory_name:
        user.territory = db.session.scalar(select(Territory).filter_by(name=territory_name))
        if user.territory is None:
            raise click.ClickException(f"Aucun territoire nommé {territory_name}.")
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except Exception as error:  # constraint: duplicate e-mail or role without its scope
        db.session.rollback()
        raise click.ClickException(f"Compte non créé : {error.__class__.__name__}") from error
    click.echo(f"Compte {user.email} créé ({Role.LABELS[role]}).")


@click.command("anonymize-stale")
@click.option("--months", type=int, help="Inactivité en mois (défaut : RETENTION_MONTHS).")
@click.option("--dry-run", is_flag=True, help="Lister seulement, sans rien modifier.")
def anonymize_stale_command(months, dry_run):
    """Anonymise people with no activity for RETENTION_MONTHS months (retention rule)."""
    from flask import current_app

    from .beneficiaries.operations import anonymise, stale_beneficiaries

    months = months or current_app.config["RETENTION_MONTHS"]
    stale = stale_beneficiaries(months)
    verb = "seraient anonymisées" if dry_run else "anonymisées"
    for person in stale:
        # codes only: the output may end up in logs
        click.echo(f"  {person.code}  {person.relay.code:12} dernière activité {person.last_activity_at:%d/%m/%Y}")
        if not dry_run:
            anonymise(person, None, f"sans activité depuis {months} mois")
    click.echo(f"{len(stale)} fiche(s) sans activité depuis {months} mois {verb}.")


@click.command("verify-ledger")
@click.option("--relay", "relay_code", help="Code de la structure (toutes par défaut).")
def verify_ledger_command(relay_code):
    """Check every relay's hash chain; exit 1 naming the first altered, inserted or missing entry."""
    from .ledger.operations import verify_relay
    from .sales import operations as _sales  # noqa: F401  (registers sales and voids)

    query = select(Relay).order_by(Relay.code)
    if relay_code:
        query = query.where(Relay.code == relay_code.upper())
    relays = db.session.scalars(query).all()
    if relay_code and not relays:
        raise click.ClickException(f"Aucune structure avec le code {relay_code}.")
    broken = 0
    for relay in relays:
        problem = verify_relay(relay.id)
        click.echo(f"{relay.code:12} {'INTACT' if problem is None else 'ROMPU : ' + problem}")
        broken += problem is not None
    if broken:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(verify_ledger_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(anonymize_stale_command)
