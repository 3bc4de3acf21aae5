"""How a figure reads in the report pages: a value with the previous period's under it, counts of
people masked, and the cells of a relay's row. Python functions rather than Jinja macros: a
dashboard of 100 relays calls them more than a thousand times."""
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


def activity_cells(f, b) -> Markup:
    """The cells of one relay's row (or the total's) in the activity table: `f` the period's
    Figures, `b` the previous period's."""
    void_rate = f" ({number(round(f.void_rate * 100, 1))} %)" if f.void_rate is not None else ""
    gap = f'<small class="was">{escape(money(f.closing_gap_cents))}</small>' if f.closing_gap_cents else ""
    cells = (compare(f.onboarded, b.onboarded), compare(f.served, b.served), compare(f.sales, b.sales),
             money_compare(f.net_cents, b.net_cents), compare(f.free_sims, b.free_sims),
             compare(f.devices, b.devices), f"{escape(masked(f.voids))}{void_rate}",
             f"{f.closing_differences} / {f.closings}{gap}", compare(f.sessions, b.sessions, False),
             compare(f.participants, b.participants), compare(hours(f.minutes), hours(b.minutes), False),
             compare(f.certificates, b.certificates), f"{f.last_activity:%d/%m/%Y}" if f.last_activity else "—")
    return Markup("".join(f"<td>{cell}</td>" for cell in cells))


def breakdown_cells(now: dict, before: dict, columns) -> Markup:
    """Each category or payment method of a row: count and amount, the previous period's under them."""
    cells = []
    for code in columns:
        (count, cents), (was_count, was_cents) = now.get(code, (0, 0)), before.get(code, (0, 0))
        cells.append(f"<td>{escape(masked(count))} · {escape(money(cents))}<small class=\"was\">"
                     f"{escape(masked(was_count))} · {escape(money(was_cents))}</small></td>")
    return Markup("".join(cells))


def register(blueprint) -> None:
    """The pages hide small counts as the CSV and PDF do."""
    blueprint.add_app_template_filter(masked, "masked")
    for function in (compare, money_compare, hours, activity_cells, breakdown_cells):
        blueprint.add_app_template_global(function)

