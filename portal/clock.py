"""The portal's one clock: now in UTC for what is stored, today and now in the portal's time zone
(config TIMEZONE, Europe/Paris) for what people see and for every rule about days."""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


def zone() -> ZoneInfo:
    """The portal's time zone."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def utcnow() -> datetime:
    """Now in UTC, naive (stored as such on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def now() -> datetime:
    """Now in the portal's time zone (aware)."""
    return datetime.now(zone())


def today() -> date:
    """Today in the portal's time zone: the day a volunteer, a receipt and a rule mean."""
    return now().date()


def local_time(moment: datetime) -> datetime:
    """A stored (naive UTC) moment in the portal's time zone (aware)."""
    return moment.replace(tzinfo=UTC).astimezone(zone())


def local_day(moment: datetime) -> date:
    """The local date of a naive UTC datetime."""
    return local_time(moment).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day's start and end (exclusive) as naive UTC datetimes, as times are stored."""
    return local_midnight(day), local_midnight(day + timedelta(days=1))


def local_midnight(day: date) -> datetime:
    """The start of a local day as a naive UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)
