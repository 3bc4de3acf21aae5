"""`make bench-check`: the budgeted figures of docs/benchmarks.json against their budgets.

Prints one line per figure and exits 1 when a figure misses its budget or when a figure that
DESIGN.md's budgets call for has never been recorded (run `make bench` first). The benchmarks
write the figures (`bench_report.record` in tests/bench/conftest.py); this script only reads
them, and needs nothing but the standard library.
"""
import fnmatch
import json
import operator
import sys
from pathlib import Path

FIGURES_JSON = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.json"
COMPARISONS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}

NETWORK_PAGES = ("login", "sale_screen", "search", "attendance")
LOAD_PAGES = ("search", "sale_screen", "record_sale", "receipt", "attendance_toggle", "dashboard")
# The figures DESIGN.md's budgets call for (shell-style patterns: each must match at least one).
EXPECTED = [
    "receipt.render_ms", "receipt.size_kb",
    "certificates.group_24.render_ms",
    "search.sqlite.p95_ms", "search.sqlite.one_letter.p95_ms", "search.sqlite.duplicates.p95_ms",
    "search.sqlite.page_gzip_kb", "search.sqlite.fragment_gzip_kb",
    "sales.sqlite.record_sale_p95_ms",
    "dashboard.sqlite.*.p95_ms", "dashboard.sqlite.*.page_gzip_kb",
    *(f"network.edge.{page}.{figure}" for page in NETWORK_PAGES
      for figure in ("first_visit_kb", "first_visit_requests", "first_visit_s", "repeat_visit_requests",
                     "html_gzip_kb")),
    "network.attendance_toggle.fragment_kb",
    *(f"load.embedded.u20.{page}.p95_ms" for page in LOAD_PAGES),
]


def within_budget(value: float, budget: float | None, comparison: str = "<=") -> bool | None:
    """True or False against the budget; None when the figure has no budget (information)."""
    return None if budget is None else COMPARISONS[comparison](value, budget)


def load_figures(path: Path = FIGURES_JSON) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def missing_figures(figures: dict) -> list[str]:
    return [pattern for pattern in EXPECTED if not fnmatch.filter(figures, pattern)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"


def _result(figure: dict) -> str:
    passed = within_budget(figure["value"], figure["budget"], figure["comparison"])
    return "info" if passed is None else "pass" if passed else "MISS"


def _budget(figure: dict) -> str:
    if figure["budget"] is None:
        return "—"
    return f"{figure['comparison']} {_number(figure['budget'])} {figure['unit']}"


def summary_markdown(figures: dict) -> str:
    """The summary section of docs/BENCHMARKS.md: one row per figure, then the commands."""
    commands: list[str] = []
    rows = []
    for name, figure in sorted(figures.items()):
        if figure["command"] not in commands:
            commands.append(figure["command"])
        machine = figure["machine"]
        result = _result(figure)
        rows.append(
            f"| `{name}` | {_number(figure['value'])} {figure['unit']} | {_budget(figure)} "
            f"| {'**miss**' if result == 'MISS' else result} | {figure['measured_at']} "
            f"| {figure['load_average']:.2f} | {machine['cores']} CPU, {machine['memory_gib']} GiB "
            f"| [{commands.index(figure['command']) + 1}] |")
    misses = sum(1 for figure in figures.values() if _result(figure) == "MISS")
    missing = missing_figures(figures)
    lines = [
        "## Summary: every budgeted figure",
        "",
        "*Written from `docs/benchmarks.json` at the end of each `make bench` run; `make bench-check`"
        " prints the same table and exits 1 on a miss or a missing figure.* Load is the 1-minute load"
        " average while the figure was measured (the machine is shared: other people's tests run on it).",
        "",
        f"**{len(figures) - misses} of {len(figures)} figures within budget"
        + (f"; {misses} missed" if misses else "")
        + (f"; not measured yet: {', '.join(f'`{m}`' for m in missing)}" if missing else "") + ".**",
        "",
        "| Figure | Value | Budget | Result | Measured | Load | Machine | Command |",
        "|---|---:|---|---|---|---:|---|---|",
        *rows,
        "",
        *(f"{i}. `{command}`" for i, command in enumerate(commands, 1)),
    ]
    return "\n".join(lines)


def main() -> int:
    figures = load_figures()
    width = max([len(name) for name in figures] + [10])
    for name, figure in sorted(figures.items()):
        print(f"{name:<{width}}  {_number(figure['value']):>9} {figure['unit']:<8} {_budget(figure):<16} "
              f"{_result(figure):<5} {figure['measured_at']}  load {figure['load_average']:.2f}")
    misses = [name for name, figure in figures.items() if _result(figure) == "MISS"]
    missing = missing_figures(figures)
    for pattern in missing:
        print(f"{pattern:<{width}}  not measured (run `make bench`)")
    print(f"\n{len(figures) - len(misses)} of {len(figures)} figures within budget, {len(misses)} missed, "
          f"{len(missing)} not measured ({FIGURES_JSON.name}).")
    return 1 if misses or missing else 0


if __name__ == "__main__":
    sys.exit(main())
