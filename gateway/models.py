"""Every table of every domain, imported once so Alembic sees the whole schema."""

from consent.models import Consent, ConsentKey, ConsentReceipt
from consent.notifications.models import ConsentNotification
from gateway.audit.models import (
    AuditCosignature,
    AuditEntry,
    AuditHead,
    AuditNode,
    AuditTreeHead,
)
from gateway.borrowers.models import LoginSession, OtpChallenge
from gateway.clients.models import Client, UsedAssertion
from gateway.db import Base
from gateway.protection.models import KekRotation
from gateway.releases.models import Release
from gateway.security.models import SecurityCounter

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
    "ConsentNotification",
    "ConsentReceipt",
    "KekRotation",
    "LoginSession",
    "OtpChallenge",
    "Release",
    "SecurityCounter",
    "UsedAssertion",
    "metadata",
]
