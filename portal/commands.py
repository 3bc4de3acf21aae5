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


def seed_demo() -> bool:
    """Create the Hautes-Alpes demo; False (and nothing written) when the database has data."""
    if db.session.scalar(select(Relay.id).limit(1)) is not None:
        return False
    territory = Territory(name="Hautes-Alpes")
    db.session.add(territory)
    relays = {}
    for code, name, organisation, town, address in DEMO_RELAYS:
        relays[code] = Relay(code=code, name=name, organisation=organisation, town=town,
                             address=address, territory=territory)
        db.session.add(relays[code])
    for email, name, role, relay_code in DEMO_USERS:
        user = User(email=email, display_name=name, role=role,
                    relay=relays.get(relay_code),
                    territory=territory if role == Role.COORDINATOR else None)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    db.session.commit()
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


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
