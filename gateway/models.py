"""Every table of every domain, imported once so Alembic sees the whole schema."""

from consent.models import Consent, ConsentKey
from gateway.audit.models import (
    AuditCosignature,
    AuditEntry,
    AuditHead,
    AuditNode,
    AuditTreeHead,
)
from gateway.borrowers.models import OtpChallenge
from gateway.clients.models import Client, UsedAssertion
from gateway.db import Base
from gateway.protection.models import KekRotation
from gateway.releases.models import Release

metadata = Base.metadata

__all__ = [
    "AuditCosignature",
    "AuditEntry",
    "AuditHead",
    "AuditNode",
    "AuditTreeHead",
    "Client",
    "Consent",
    "ConsentKey",
    "KekRotation",
    "OtpChallenge",
    "Release",
    "UsedAssertion",
    "metadata",
]
