"""Jinja filters for French money, numbers and dates, and the navigation by role."""
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import get_currency_symbol
from flask import current_app
from flask_login import current_user

from . import clock, payments
from .security import Role

THOUSANDTHS = Decimal("0.001")


def money(cents: int | None) -> str:
    """1234 → « 12,34 € » (as Babel's format_currency writes it, a hundred times faster: a report
    page shows hundreds of amounts)."""
    if cents is None:
        return ""
    prefixes, suffixes, group, decimal = _number_formats(current_app.config["LOCALE"])
    negative = cents < 0
    euros, rest = divmod(abs(int(cents)), 100)
    return f"{prefixes[negative]}{euros:,}".replace(",", group) + f"{decimal}{rest:02d}{suffixes[negative]}"


@lru_cache(maxsize=4)
def _number_formats(locale_name: str) -> tuple:
    """The locale's currency pattern, read once: (prefixes, suffixes) for positive and negative
    amounts, with the € sign in place, and the group and decimal symbols."""
    locale = Locale.parse(locale_name)
    pattern, decimals = locale.currency_formats["standard"], locale.decimal_formats[None]
    if pattern.grouping != (3, 3) or pattern.frac_prec != (2, 2) or decimals.grouping != (3, 3) \
            or decimals.frac_prec != (0, 3):
        raise ValueError(f"Format monétaire non pris en charge pour {locale_name}")
    symbol, symbols = get_currency_symbol("EUR", locale), locale.number_symbols["latn"]
    return (tuple(p.replace("¤", symbol) for p in pattern.prefix), tuple(s.replace("¤", symbol) for s in pattern.suffix),
            symbols["group"], symbols["decimal"])


def number(value) -> str:
    """12345.6 → « 12 345,6 »: at most three decimals, trailing zeros dropped, as Babel's
    format_decimal writes it (by hand, for the same reason as money)."""
    group, decimal = _number_formats(current_app.config["LOCALE"])[2:]
    if isinstance(value, int):
        text = f"{value:,}"
    else:
        text = f"{Decimal(str(value)).quantize(THOUSANDTHS, rounding=ROUND_HALF_EVEN):,f}"
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def local_datetime(value: datetime | None, fmt: str = "d MMM y 'à' HH:mm") -> str:
    """A naive UTC datetime shown in the portal's time zone (Europe/Paris)."""
    if value is None:
        return ""
    aware = value.replace(tzinfo=ZoneInfo("UTC"))
    return format_datetime(
        aware, fmt, tzinfo=clock.zone(),
        locale=current_app.config["LOCALE"],
    )


def local_date(value, fmt: str = "d MMMM y") -> str:
    if value is None:
        return ""
    return format_date(value, fmt, locale=current_app.config["LOCALE"])


# (endpoint, label, roles that see it) — the order of the navigation bar.
NAVIGATION = [
    ("home.index", "Accueil", {Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN}),
    ("beneficiaries.index", "Personnes", {Role.VOLUNTEER, Role.MANAGER}),
    ("sales.new", "Nouvelle vente", {Role.VOLUNTEER, Role.MANAGER}),
    ("sales.index", "Ventes", {Role.VOLUNTEER, Role.MANAGER}),
    ("workshops.index", "Ateliers", {Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN}),
    ("laptops.index", "Ordinateurs", {Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR}),
    ("stock.index", "Stock", {Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN}),
    ("cash.index", "Caisse", {Role.MANAGER}),
    ("reports.index", "Rapports", {Role.MANAGER, Role.COORDINATOR, Role.ADMIN}),
    ("relays.index", "Structures", {Role.COORDINATOR, Role.ADMIN}),
    ("catalogue.index", "Catalogue", {Role.COORDINATOR, Role.ADMIN}),
    ("users.index", "Comptes", {Role.MANAGER, Role.COORDINATOR, Role.ADMIN}),
    ("relays.territories", "Territoires", {Role.ADMIN}),
    ("audit.index", "Journal", {Role.ADMIN}),
]


def navigation() -> list[tuple[str, str]]:
    """The (endpoint, label) links the current user's role can use."""
    if not current_user.is_authenticated:
        return []
    return [(endpoint, label) for endpoint, label, roles in NAVIGATION if current_user.role in roles]


def init_app(app) -> None:
    app.jinja_env.filters.update(
        money=money, number=number, datetime=local_datetime, date=local_date, payment_method=payments.label
    )
    app.jinja_env.globals["navigation"] = navigation
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
