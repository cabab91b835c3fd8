"""What every operator command test shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.settings import get_settings


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory, as `LENDGATE_DATA_DIR`, for every command of the test."""
    monkeypatch.setenv("LENDGATE_DATA_DIR", str(tmp_path))
    for name in ("LENDGATE_DATABASE_URL", "LENDGATE_SMS_SENDER", "LENDGATE_SMS_OUTBOX"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
