"""Shared by the benchmarks: timing, the machine's description, and docs/BENCHMARKS.md.

Benchmarks report figures; they never assert timings (DESIGN.md, Budgets). Each benchmark owns
one section of docs/BENCHMARKS.md, delimited by `<!-- bench:NAME -->` … `<!-- /bench:NAME -->`,
and rewrites only that section; the rest of the file is kept as it is. A section may hold
sub-sections with the same markers (e.g. `search/sqlite`), so that a partial run keeps the
figures it did not measure.
"""
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

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


# --- the machine --------------------------------------------------------------------------

def machine_description() -> str:
    """CPU model, cores, memory, OS and Python, as one line of markdown."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPU (nproc), {memory} RAM (MemTotal), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


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


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace section `name` of the file with `body` (appended when new), keeping the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    block = wrap_section(name, body)
    pattern = _section_re(name)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@pytest.fixture(scope="session")
def bench_report():
    """The writer of docs/BENCHMARKS.md sections: bench_report.write(name, body), .read(name)."""

    class Report:
        path = BENCHMARKS_MD
        read = staticmethod(read_section)
        write = staticmethod(write_section)
        wrap = staticmethod(wrap_section)
        machine = staticmethod(machine_description)
        date = staticmethod(now_utc)

    return Report


@pytest.fixture(scope="session")
def bench_cache_dir() -> Path:
    """Where benchmarks keep generated data between runs (git-ignored)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR
