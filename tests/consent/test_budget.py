"""Frequency budgets in calendar intervals of Beijing time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent.budget import CHINA_STANDARD_TIME, interval_start, releases_allowed


@pytest.mark.parametrize(
    ("now", "unit", "start"),
    [
        # 2026-11-30 17:00 UTC is already 1 December in Beijing: a new month has begun there.
        (
            datetime(2026, 11, 30, 17, tzinfo=UTC),
            "MONTH",
            datetime(2026, 12, 1, tzinfo=CHINA_STANDARD_TIME),
        ),
        (
            datetime(2026, 11, 30, 15, tzinfo=UTC),
            "MONTH",
            datetime(2026, 11, 1, tzinfo=CHINA_STANDARD_TIME),
        ),
        (
            datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
            "DAY",
            datetime(2026, 11, 24, tzinfo=CHINA_STANDARD_TIME),
        ),
        (
            datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
            "YEAR",
            datetime(2027, 1, 1, tzinfo=CHINA_STANDARD_TIME),
        ),
    ],
)
def test_interval_start_is_a_calendar_boundary_in_beijing(
    now: datetime, unit: str, start: datetime
) -> None:
    assert interval_start(now, unit) == start


def test_unknown_unit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="WEEK"):
        interval_start(datetime(2026, 1, 1, tzinfo=UTC), "WEEK")


@pytest.mark.parametrize(
    ("fetch_type", "value", "total", "in_interval", "allowed"),
    [
        ("ONETIME", 1, 0, 0, True),
        ("ONETIME", 5, 1, 0, False),  # one release ever, whatever the frequency says
        ("PERIODIC", 2, 7, 1, True),
        ("PERIODIC", 2, 7, 2, False),
    ],
)
def test_releases_allowed(
    fetch_type: str, value: int, total: int, in_interval: int, allowed: bool
) -> None:
    assert releases_allowed(fetch_type, value, total, in_interval) is allowed
