"""Plain-data context of the activity report for funders (pdf/activity_report.html): headline
figures beside the period before, a bar chart per month drawn as inline SVG, the relays' table.
Figures only, never a person; small counts masked as on the dashboard."""
from datetime import date

from flask import current_app

from .. import clock
from ..relays.models import Relay
from ..templating import local_date, number
from .exports import months
from .forms import Period
from .masking import masked
from .queries import Figures, monthly_trend, relay_figures

CHART_MONTHS = (6, 24)  # a chart shows at least the 6 months up to the period's end, at most its last 24
# The chart's geometry in millimetres (its SVG user units): the width of an A4 page's text.
CHART_WIDTH, BAR_TOP, BAR_BOTTOM, CHART_HEIGHT = 186, 3.5, 15.5, 21.5


def sim_cards(f: Figures) -> int:
    """SIM cards handed over, the free emergency ones included."""
    return f.categories.get("sim", [0, 0])[0] + f.free_sims


def activity_report_context(scope: str, relays: list[Relay], period: Period, previous: Period) -> dict:
    """Every figure of the report over `relays`, formatted; plain values only."""
    ids = [relay.id for relay in relays]
    now, before = relay_figures(ids, period.start, period.end), relay_figures(ids, previous.start, previous.end)
    total, total_before = _sum(now.values()), _sum(before.values())
    small = current_app.config["REPORT_SMALL_COUNT"]
    return {
        "page_size": "A4",
        "relay": {"name": scope, "address": "", "town": ""},  # pdf/_document.html names the page with it
        "scope": scope,
        "start": local_date(period.start), "end": local_date(period.end),
        "period_short": f"{local_date(period.start, 'dd/MM/y')} – {local_date(period.end, 'dd/MM/y')}",
        "previous_start": local_date(previous.start), "previous_end": local_date(previous.end),
        "headlines": _headlines(total, total_before),
        "chart": _chart(ids, period, small),
        "relays": [_row(relay.name, now[relay.id]) for relay in relays],
        "total": _row("Total", total) if len(relays) > 1 else None,
        "small_count": small,
        "printed_on": local_date(clock.today()),
    }


def _sum(figures) -> Figures:
    total = Figures()
    for f in figures:
        total.add(f)
    return total


def _count(value: int) -> str:
    """A count of people or of what they took: masked when small, else "2 750"."""
    shown = masked(value)
    return shown if isinstance(shown, str) else number(shown)


def _hours(minutes: int) -> str:
    return number(round(minutes / 60, 1))


def _headlines(f: Figures, b: Figures) -> list[dict]:
    """The report's opening figures, in the spirit of "147 parcours, 130 personnes, 2 750 cartes SIM"."""
    def headline(label: str, value: str, before: str, detail: str = "") -> dict:
        return {"label": label, "value": value, "before": before, "detail": detail}

    return [
        headline("nouvelles personnes accueillies", _count(f.onboarded), _count(b.onboarded)),
        headline("personnes servies", _count(f.served), _count(b.served)),
        headline("cartes SIM", _count(sim_cards(f)), _count(sim_cards(b)), f"dont {_count(f.free_sims)} gratuites"),
        headline("appareils reconditionnés", _count(f.devices), _count(b.devices)),
        headline("séances d'atelier", number(f.sessions), number(b.sessions)),
        headline("participant·es aux ateliers", _count(f.participants), _count(b.participants)),
        headline("heures de formation suivies", _hours(f.minutes), _hours(b.minutes)),
        headline("attestations remises", _count(f.certificates), _count(b.certificates)),
    ]


def _row(name: str, f: Figures) -> dict:
    return {"name": name, "onboarded": _count(f.onboarded), "served": _count(f.served),
            "sim_cards": _count(sim_cards(f)), "free_sims": _count(f.free_sims), "devices": _count(f.devices),
            "sessions": number(f.sessions), "participants": _count(f.participants), "hours": _hours(f.minutes),
            "certificates": _count(f.certificates)}


def _chart(relay_ids: list[int], period: Period, small: int) -> dict:
    """Bars per whole month of SIM cards, devices and hours of training over all the relays."""
    shown = _chart_months(period)
    trend = {month: Figures() for month in shown}
    for relay_id in relay_ids:
        for month, figures in monthly_trend(relay_id, shown).items():
            trend[month].add(figures)
    labels = [{"x": _centre(i, len(shown)), "month": local_date(month, "MMM"),
               "year": str(month.year) if i == 0 or month.month == 1 else ""} for i, month in enumerate(shown)]
    return {
        "from": local_date(shown[0], "MMMM y"), "to": local_date(shown[-1], "MMMM y"),
        "width": CHART_WIDTH, "height": CHART_HEIGHT, "baseline": BAR_BOTTOM, "labels": labels,
        "panels": [
            _panel("Cartes SIM (gratuites comprises)", [sim_cards(trend[m]) for m in shown], small),
            _panel("Appareils reconditionnés", [trend[m].devices for m in shown], small),
            _panel("Heures de formation suivies", [round(trend[m].minutes / 60, 1) for m in shown], None),
        ],
    }


def _chart_months(period: Period) -> list[date]:
    least, most = CHART_MONTHS
    shown = [month.start.replace(day=1) for month in months(period)][-most:]
    while len(shown) < least:
        first = shown[0]
        shown.insert(0, date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))
    return shown


def _centre(i: int, count: int) -> float:
    return round((i + .5) * CHART_WIDTH / count, 2)


def _panel(title: str, values: list, small: int | None) -> dict:
    """One series as bars; a masked value (1 to small − 1) is drawn hollow, as tall as `small`."""
    top = max([*values, small or 0, 1])
    width = round(CHART_WIDTH / len(values) * .6, 2)
    bars = []
    for i, value in enumerate(values):
        hidden = small is not None and 0 < value < small
        height = round((small if hidden else max(value, 0)) / top * (BAR_BOTTOM - BAR_TOP), 2)
        bars.append({"x": round(_centre(i, len(values)) - width / 2, 2), "y": round(BAR_BOTTOM - height, 2),
                     "width": width, "height": height, "hollow": hidden, "centre": _centre(i, len(values)),
                     "label": _count(value) if small is not None else number(value),
                     "label_y": round(BAR_BOTTOM - height - .8, 2)})
    return {"title": title, "bars": bars}
