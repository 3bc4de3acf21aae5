"""flask CLI commands: seed-demo, create-user, anonymize-stale, verify-ledger."""
import click
from flask import Flask
from sqlalchemy import select

from .database import write_transaction
from .demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from .extensions import db
from .relays.models import Relay, Territory
from .security import ROLES, Role
from .users.models import User

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
    try:
        with write_transaction():
            db.session.add(user)
    except Exception as error:  # constraint: duplicate e-mail or role without its scope
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


@click.command("rebuild-reports")
def rebuild_reports_command():
    """Recalculer les tableaux des rapports à partir des ventes, des personnes et des présences."""
    from .reports.operations import rebuild_activity

    click.echo(f"Rapports recalculés ({rebuild_activity()} enregistrements lus).")


@click.command("seed-volume")
@click.option("--relays", type=click.IntRange(1, 999), default=100, show_default=True, help="Nombre de structures.")
@click.option("--years", type=click.IntRange(1, 30), default=10, show_default=True, help="Années d'activité.")
@click.option("--sales", type=click.IntRange(0), default=3_000_000, show_default=True,
              help="Nombre de ventes (les annulations, ~2 %, s'y ajoutent).")
@click.option("--seed", type=int, default=5, show_default=True, help="Graine du tirage (même graine, même volume).")
def seed_volume_command(relays, years, sales, seed):
    """Add a territory "Volume" of synthetic relays (V001…) to measure the reports at scale.

    People, sales and voids, workshop attendance and daily closings, with the report tables, written
    in bulk into a migrated database (empty or holding the demo). No stock movements and no ledger
    entries are written: these relays exist to measure reports, their ledgers are not chained
    (verify-ledger reports them as broken). Run it while nobody else writes to the database."""
    from .errors import Refused
    from .reports.volume import seed_volume

    try:
        totals = seed_volume(relays=relays, years=years, sales=sales, seed=seed, echo=click.echo)
    except Refused as refused:
        raise click.ClickException(str(refused)) from None

    def n(number) -> str:  # 12345 → "12 345"
        return f"{round(number):,}".replace(",", " ")

    click.echo(
        f"Volume ajouté en {totals.seconds:.0f} s : {totals.relays} structures, {n(totals.people)} personnes, "
        f"{n(totals.sales)} ventes et {n(totals.voids)} annulations ({n(totals.lines)} lignes de vente, "
        f"{n(totals.payments)} paiements), {n(totals.sessions)} séances ({n(totals.marks)} présences notées), "
        f"{n(totals.closings)} clôtures ; rapports : {n(totals.daily)} lignes par jour, {n(totals.monthly)} "
        f"par mois et {n(totals.yearly)} par an, {n(totals.served)} personnes servies par jour. "
        f"{n(totals.rows)} enregistrements écrits, "
        f"{n(totals.rows_per_second)} enregistrements/s (écriture seule : {totals.insert_seconds:.0f} s, "
        f"{n(totals.rows / totals.insert_seconds if totals.insert_seconds else 0)}/s).")


@click.command("backup")
@click.option("--output", type=click.Path(dir_okay=False),
              help="Fichier à écrire (défaut : instance/backups/portal-AAAAMMJJ-HHMMSS.sqlite3, ou .dump "
                   "sur PostgreSQL).")
def backup_command(output):
    """Take an online, consistent backup of the database while the portal keeps running."""
    from pathlib import Path

    from flask import current_app

    from .backup import BackupFailed, backup_database, default_backup_path

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    output = Path(output) if output else default_backup_path(current_app.instance_path, url)
    try:
        written = backup_database(url, output)
    except BackupFailed as failure:
        raise click.ClickException(str(failure)) from None
    click.echo(f"Sauvegarde écrite : {written} ({written.stat().st_size / 1e6:.1f} Mo).")


def init_app(app: Flask) -> None:
    app.cli.add_command(rebuild_reports_command)
    app.cli.add_command(seed_volume_command)
    app.cli.add_command(verify_ledger_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(anonymize_stale_command)
    app.cli.add_command(backup_command)
