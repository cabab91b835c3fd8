"""Frequency budgets counted in calendar intervals of China Standard Time (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def interval_start(now: datetime, unit: str) -> datetime:
    """Start of the calendar DAY, MONTH or YEAR (Beijing time) that `now` falls in."""
    local = now.astimezone(CHINA_STANDARD_TIME).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "DAY":
        return local
    if unit == "MONTH":
        return local.replace(day=1)
    if unit == "YEAR":
        return local.replace(month=1, day=1)
    raise ValueError(f"unknown frequency unit {unit!r}")


def counts_intervals(fetch_type: str) -> bool:
    """Whether the budget depends on the releases of the current interval (PERIODIC only)."""
    return fetch_type != "ONETIME"


def releases_allowed(
    fetch_type: str, frequency_value: int, total_so_far: int, in_interval_so_far: int
) -> bool:
    """Whether one more release fits: ONETIME allows one ever, PERIODIC `value` per interval."""
    if not counts_intervals(fetch_type):
        return total_so_far == 0
    return in_interval_so_far < frequency_value
