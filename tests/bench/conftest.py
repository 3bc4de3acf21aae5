"""Shared by the benchmarks: timing, the machine's description, and docs/BENCHMARKS.md.

Benchmarks report figures; they never assert timings (DESIGN.md, Budgets). Each benchmark owns
one section of docs/BENCHMARKS.md, delimited by `<!-- bench:NAME -->` … `<!-- /bench:NAME -->`,
and rewrites only that section; the rest of the file is kept as it is. A section may hold
sub-sections with the same markers (e.g. `search/sqlite`), so that a partial run keeps the
figures it did not measure.

Each budgeted figure is also recorded, machine-readable, in docs/benchmarks.json through
`bench_report.record(name, value, budget, unit)`; `make bench-check` (tests/bench/check.py) reads
it, and the `summary` section at the top of docs/BENCHMARKS.md is its table.
"""
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.bench.check import FIGURES_JSON, load_figures, summary_markdown, within_budget


@pytest.hookimpl(trylast=True)  # after tests/conftest.py has set its moment
def pytest_configure(config):
    """Benchmarks run on the machine's clock, so that each figure is dated when it was measured:
    the set moment of the unit tests (tests/conftest.py) stops here, for this process and the
    servers it starts."""
    from tests.conftest import TRAVEL

    if TRAVEL in config.stash:
        config.stash[TRAVEL].stop()
        del config.stash[TRAVEL]
    os.environ.pop("PORTAL_TEST_CLOCK_OFFSET", None)

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"
CACHE_DIR = ROOT / "instance" / "bench"  # git-ignored (instance/*)

TITLE = """# Benchmarks

Figures written by the benchmarks themselves (`make bench`, tests in `tests/bench/`): each
benchmark rewrites only its own section, between its `<!-- bench:… -->` markers. Benchmarks
report; they do not fail on a missed budget (see DESIGN.md, Budgets).
"""


# --- timing -------------------------------------------------------------------------------

@dataclass
class Timing:
    """Wall-clock times of repeated runs, in seconds, and the CPU time of the measuring thread
    for the same runs (what a run costs without other processes competing for the CPU)."""

    samples: list[float]
    cpu: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile (p in 0..100) of the samples."""
        ordered = sorted(self.samples)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil
        return ordered[int(rank) - 1]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def max(self) -> float:
        return max(self.samples)

    def ms(self) -> str:
        """"p50 / p95 / max" in milliseconds."""
        return " / ".join(format_ms(x) for x in (self.p50, self.p95, self.max))

    @property
    def cpu_timing(self) -> "Timing":
        return Timing(self.cpu)


def format_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def measure(run, runs: int = 50, warmup: int = 3, max_seconds: float = 3.0, min_runs: int = 5) -> Timing:
    """Call `run()` `warmup` times, then time it `runs` times (fewer, but at least `min_runs`,
    when the runs take more than `max_seconds` in all: a slow case says so soon enough)."""
    for _ in range(warmup):
        run()
    samples: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    for _ in range(runs):
        c0, t0 = time.thread_time(), time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        if len(samples) >= min_runs and time.perf_counter() - started > max_seconds:
            break
    return Timing(samples, cpu)


class StatementLog:
    """The SQL statements run while the block is active."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def settle_after_bulk_load(db) -> None:
    """What a database does soon after a bulk load, done now so that it is not measured: VACUUM
    ANALYZE on PostgreSQL (autovacuum), a WAL checkpoint on SQLite; then the connections closed."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    db.session.remove()
    db.engine.dispose()


# --- the machine --------------------------------------------------------------------------

def _proc_value(path: str, prefix: str) -> str | None:
    """The text after the first colon of the first line of /proc/<path> that starts with prefix."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def memory_gib() -> float | None:
    total = _proc_value("/proc/meminfo", "MemTotal:")
    return round(int(total.split()[0]) / 1024 / 1024, 1) if total else None


def machine_description() -> str:
    """CPU model, cores, memory, OS and Python, and how fast one core ran a reference loop, as one
    line of markdown."""
    cpu = _proc_value("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    memory = memory_gib()
    return (f"{cpu}, {os.cpu_count()} CPU (nproc), {f'{memory} GiB' if memory else '?'} RAM (MemTotal), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"reference loop {reference_loop_ms():.0f} ms")


def reference_loop_ms() -> float:
    """The best of 5 runs of a fixed pure-Python loop (a million additions and string formats), in
    ms. The machines that run the benchmarks change from one session to the next (the same
    dashboard code took 186 ms on one and 48 ms on another): this says how far figures measured
    on different machines compare."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += len(f"{i}")
        best = min(best, time.perf_counter() - started)
    return best * 1000


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --- docs/BENCHMARKS.md -------------------------------------------------------------------

def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def _section_re(name: str) -> re.Pattern:
    start, end = _markers(name)
    return re.compile(re.escape(start) + r"\n?(.*?)\n?" + re.escape(end), re.S)


def wrap_section(name: str, body: str) -> str:
    """`body` between the markers of section `name`."""
    start, end = _markers(name)
    return f"{start}\n{body.strip()}\n{end}"


def read_section(name: str, path: Path = BENCHMARKS_MD) -> str | None:
    """The current body of section `name`, or None when the file or the section is missing."""
    if not path.exists():
        return None
    found = _section_re(name).search(path.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD, first: bool = False) -> None:
    """Replace section `name` of the file with `body` (when new: appended, or with `first` put
    before the other sections), keeping the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    block = wrap_section(name, body)
    pattern = _section_re(name)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    elif first and "<!-- bench:" in text:
        head, _, rest = text.partition("<!-- bench:")
        text = head.rstrip("\n") + "\n\n" + block + "\n\n<!-- bench:" + rest
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_block(section: str, header: str, titles: dict[str, str], name: str, body: str) -> None:
    """Rewrite `section` as its header and one block per key of `titles` (`section/key`): block
    `name` becomes `body`, the others keep what an earlier run wrote (or say not measured yet)."""
    blocks = []
    for key, title in titles.items():
        current = body if key == name else read_section(f"{section}/{key}")
        if current is None:
            current = f"### {title}\n\n_Not measured yet._"
        blocks.append(wrap_section(f"{section}/{key}", current))
    write_section(section, "\n\n".join([header, *blocks]))


# --- docs/benchmarks.json ------------------------------------------------------------------

def bench_command() -> str:
    """The command line of this run, as someone would type it again."""
    database = os.environ.get("TEST_DATABASE_URL")
    prefix = f"TEST_DATABASE_URL={database} " if database else ""
    return prefix + " ".join(["python -m pytest", *sys.argv[1:]])


def record_figure(name: str, value: float, budget: float | None, unit: str, comparison: str = "<=",
                  load: float | None = None, note: str = "", path: Path = FIGURES_JSON) -> None:
    """Store one figure in docs/benchmarks.json, replacing its previous measurement.

    `budget` None: reported for information, never a miss. `load`: the 1-min load average while
    the figure was measured (now, when not given)."""
    figures = load_figures(path)
    figures[name] = {
        "value": round(value, 3), "unit": unit, "budget": budget, "comparison": comparison,
        "passed": within_budget(value, budget, comparison),
        "measured_at": now_utc(), "command": bench_command(),
        "source": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "machine": {"cores": os.cpu_count(), "memory_gib": memory_gib(), "description": machine_description()},
        "load_average": round(os.getloadavg()[0] if load is None else load, 2),
        "note": note,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(figures, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_summary(figures_path: Path = FIGURES_JSON, path: Path = BENCHMARKS_MD) -> None:
    """Rewrite the `summary` section, at the top of docs/BENCHMARKS.md, from docs/benchmarks.json."""
    write_section("summary", summary_markdown(load_figures(figures_path)), path, first=True)


@pytest.fixture(scope="session")
def bench_report():
    """The writer of docs/BENCHMARKS.md sections: bench_report.write(name, body), .read(name),
    and of the budgeted figures: bench_report.record(name, value, budget, unit). At the end of
    the run the summary table at the top of docs/BENCHMARKS.md is rewritten."""

    class Report:
        path = BENCHMARKS_MD
        read = staticmethod(read_section)
        write = staticmethod(write_section)
        wrap = staticmethod(wrap_section)
        write_block = staticmethod(write_block)
        record = staticmethod(record_figure)
        machine = staticmethod(machine_description)
        date = staticmethod(now_utc)

    yield Report
    write_summary()


@pytest.fixture(scope="session")
def bench_cache_dir() -> Path:
    """Where benchmarks keep generated data between runs (git-ignored)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR
