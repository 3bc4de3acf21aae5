"""Receipt PDF: warm render time and size, budget ≤ 100 ms and ≤ 30 KB (DESIGN.md, Budgets).

One sale (a SIM at a solidarity price and a recharge, paid in cash with change) for a person with
a Latin, a Cyrillic, an Arabic-script or a Ge'ez name, printed on A5 and on the 80 mm roll.
Measured: receipt_context() (its queries included) and render_pdf() of pdf/receipt.html, each the
median of 30 runs after 3 warm-ups. Reported in docs/BENCHMARKS.md (section `receipt`); nothing
here asserts a timing.
"""
import os
import uuid

from portal import clock
from portal.extensions import db
from portal.pdf import render_pdf
from portal.sales.documents import receipt_context
from portal.sales.operations import LineRequest, PaymentRequest, record_sale
from portal.security import Role
from tests.bench.conftest import format_ms, machine_description, measure, now_utc

RUNS, WARMUP = 30, 3
BUDGET_MS, BUDGET_KB = 100, 30
NAMES = [("Latin", "Zoé", "Lefèvre-Ångström"), ("Cyrillic", "Олена", "Шевченко"),
         ("Arabic", "محمد", "نادری"), ("Ge'ez", "ሰላም", "ተስፋይ")]
FORMATS = ("A5", "80mm")


def test_receipt_render(app, make_relay, make_user, make_product, make_beneficiary, bench_report):
    relay = make_relay(name="Secours Populaire – Antenne de Gap", address="8 rue de la Paix, 05000 Gap",
                       legal_mention="Association loi 1901 non assujettie à la TVA (art. 261-7-1° du CGI).")
    volunteer = make_user(Role.VOLUNTEER, relay=relay, display_name="Marie Dupont")
    sim = make_product([relay], stock=100, name="Carte SIM prépayée", price=500, reference=1500)
    recharge = make_product([relay], stock=100, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    load_before = os.getloadavg()
    rows = []
    for script, first, last in NAMES:
        person = make_beneficiary(relay, first, last, eligible_on=clock.today())
        sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(sim.id), LineRequest(recharge.id)],
                           [PaymentRequest("cash", 1500, 2000)], person.id)
        for page_size in FORMATS:
            relay.receipt_format = page_size
            db.session.commit()
            context = receipt_context(sale, 0)
            size = len(render_pdf("pdf/receipt.html", **context))
            rows.append({
                "name": f"{script} ({first} {last})", "format": page_size, "bytes": size,
                "context": measure(lambda: receipt_context(sale, 0), RUNS, WARMUP, max_seconds=60, min_runs=RUNS),
                "render": measure(lambda: render_pdf("pdf/receipt.html", **context), RUNS, WARMUP,
                                  max_seconds=60, min_runs=RUNS),
            })
    body = _section(rows, load_before, os.getloadavg())
    bench_report.write("receipt", body)
    slowest, largest = max(rows, key=lambda r: r["render"].p50), max(rows, key=lambda r: r["bytes"])
    bench_report.record("receipt.render_ms", slowest["render"].p50 * 1000, BUDGET_MS, "ms",
                        note=f"slowest median of {len(rows)}: {slowest['name']}, {slowest['format']}")
    bench_report.record("receipt.size_kb", largest["bytes"] / 1024, BUDGET_KB, "KB",
                        note=f"largest of {len(rows)}: {largest['name']}, {largest['format']}")
    print(f"\n{body}\n")


def _section(rows, load_before, load_after) -> str:
    lines = [
        "## Receipt PDF",
        "",
        "*Written by `tests/bench/test_receipt_bench.py`.*",
        "",
        f"**Budget:** a receipt renders in **≤ {BUDGET_MS} ms** warm and weighs **≤ {BUDGET_KB} KB**"
        " (DESIGN.md, Budgets). The budget column uses the wall-clock median of `render_pdf()`.",
        "",
        "**Method:** one sale (a SIM at 5 € instead of 15 €, a 10 € recharge, 20 € given in cash) for a"
        " person whose name is in the script shown, on the relay's A5 sheet and on the 80 mm roll."
        f" `receipt_context()` (with its queries) and `render_pdf(\"pdf/receipt.html\")` are timed apart;"
        f" each figure is the median (p50) / max of {RUNS} runs after {WARMUP} warm-up runs, wall-clock"
        " in milliseconds, in a process that has rendered before (one FontConfiguration per process);"
        " the CPU column is the median CPU time of the measuring thread for the same runs, what a"
        " render costs without other processes competing for the CPU. Size is the PDF's.",
        "",
        f"- **Date:** {now_utc()}.",
        f"- **Machine:** {machine_description()}. Load average (1 min) was {load_before[0]:.2f} before"
        f" and {load_after[0]:.2f} after.",
        "",
        "| Name | Format | `receipt_context()` ms | `render_pdf()` ms | `render_pdf()` CPU ms | Size "
        "| Within budget |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        render_ms = row["render"].p50 * 1000
        ok = render_ms <= BUDGET_MS and row["bytes"] <= BUDGET_KB * 1024
        lines.append(
            f"| {row['name']} | {row['format']} | {format_ms(row['context'].p50)} / {format_ms(row['context'].max)}"
            f" | {format_ms(row['render'].p50)} / {format_ms(row['render'].max)}"
            f" | {format_ms(row['render'].cpu_timing.p50)}"
            f" | {row['bytes'] / 1024:.1f} KB | {'pass' if ok else '**miss**'} |")
    return "\n".join(lines)
