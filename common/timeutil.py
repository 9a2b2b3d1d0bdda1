"""Times are stored as naive UTC and shown in the configured zone (Asia/Shanghai by default)."""

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def local_zone():
    return _zone(current_app.config["BABEL_DEFAULT_TIMEZONE"])


@functools.lru_cache(maxsize=16)
def _zone(name):
    """ZoneInfo by name, made once (every time in every answer goes through here)."""
    return ZoneInfo(name)


def to_local(dt):
    """A naive UTC time (as stored), or an aware one, in the local zone."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(local_zone())


def from_local(dt):
    """A naive local wall-clock time (from a form) to naive UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=local_zone())
    return dt.astimezone(UTC).replace(tzinfo=None)


def isoformat(dt):
    """ISO 8601 with offset, in the local zone."""
    return to_local(dt).isoformat(timespec="seconds") if dt else None


def local_today():
    return datetime.now(local_zone()).date()


def end_of_local_day_utc(day: date):
    return from_local(datetime.combine(day + timedelta(days=1), time.min))


def start_of_local_day_utc(day: date):
    return from_local(datetime.combine(day, time.min))
