"""One clock for the portal: today and now in the portal's time zone, in every feature."""
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine

from portal import clock

PORTAL = Path(__file__).resolve().parents[1] / "portal"
pytestmark = pytest.mark.date_sensitive


def test_no_feature_reads_the_machine_clock():
    # The server's day is UTC: the portal's day is Europe/Paris, read from portal/clock.py only.
    pattern = re.compile(r"\bdate\.today\(|\bdatetime\.(now|utcnow|today)\(|\btime\.localtime\(")
    offenders = [f"{path.relative_to(PORTAL)}:{number}" for path in PORTAL.rglob("*.py") if path.name != "clock.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


@pytest.mark.parametrize(("utc", "day"), [
    ("2026-12-31T22:30:00", date(2026, 12, 31)),  # 23:30 in Paris: still the 31st
    ("2026-12-31T23:30:00", date(2027, 1, 1)),  # 00:30 in Paris: already New Year's Day
    ("2027-03-28T01:30:00", date(2027, 3, 28)),  # 03:30 CEST, just after the spring change
    ("2026-10-25T01:30:00", date(2026, 10, 25)),  # the second 02:30 of the autumn change
    ("2028-02-28T23:10:00", date(2028, 2, 29)),
])
def test_today_is_the_portal_day_not_the_machine_day(app, utc, day):
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        assert clock.today() == day
        assert clock.local_day(clock.utcnow()) == day
        start, end = clock.day_bounds(day)
        assert start <= clock.utcnow() < end


@pytest.mark.parametrize(("day", "hours"), [(date(2027, 3, 28), 23), (date(2026, 10, 25), 25), (date(2026, 6, 17), 24)])
def test_a_local_day_lasts_23_24_or_25_hours(app, day, hours):
    start, end = clock.day_bounds(day)
    assert (end - start).total_seconds() == hours * 3600
