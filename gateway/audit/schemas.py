"""Shapes of the regulator's audit endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditEntryView(BaseModel):
    """One leaf with its position and RFC 6962 leaf hash."""

    index: int
    leaf: dict[str, Any]
    leaf_hash: str


class AuditPage(BaseModel):
    """A page of entries; pass `next_cursor` as `cursor` for the next one."""

    entries: list[AuditEntryView]
    next_cursor: str | None
