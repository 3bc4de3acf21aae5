"""How a figure reads in the report pages: a value with the previous period's under it, counts of
people masked. Python functions rather than Jinja macros: a dashboard of 100 relays calls them
more than a thousand times."""
from markupsafe import Markup, escape

from ..templating import money, number
from .masking import masked


def compare(value, before, count: bool = True) -> Markup:
    """The value, and under it (small, muted) the previous period's; counts of people masked."""
    if count:
        value, before = masked(value), masked(before)
    return Markup(f'{escape(value)}<small class="was">{escape(before)}</small>')


def money_compare(cents: int, before: int) -> Markup:
    return compare(money(cents), money(before), count=False)


def hours(minutes: int) -> str:
    """150 → « 2,5 h »."""
    return f"{number(round(minutes / 60, 1))} h"


def register(blueprint) -> None:
    """The pages hide small counts as the CSV and PDF do."""
    blueprint.add_app_template_filter(masked, "masked")
    for function in (compare, money_compare, hours):
        blueprint.add_app_template_global(function)

