"""Every table of every domain, imported once so Alembic sees the whole schema."""

from consent.models import Consent, ConsentKey
from gateway.audit.models import AuditEntry, AuditHead
from gateway.borrowers.models import OtpChallenge
from gateway.clients.models import Client, UsedAssertion
from gateway.db import Base
from gateway.releases.models import Release

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Client",
    "Consent",
    "ConsentKey",
    "OtpChallenge",
    "Release",
    "UsedAssertion",
    "metadata",
]
