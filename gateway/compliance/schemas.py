"""Shapes of the regulator's compliance endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.audit.schemas import TreeHeadView
from gateway.compliance.rules import Finding


class ReleaseCheck(BaseModel):
    """One release checked against its consent as it stood at that moment."""

    leaf_index: int
    ts: str
    consent_id: str | None
    lender_id: str | None
    consent_status: str | None = Field(description="The consent's state replayed from the log.")
    checks: dict[str, bool]
    compliant: bool


class ComplianceReport(BaseModel):
    """Releases in a time range reconciled against consents, overdue deletions, anomalies."""

    from_: datetime = Field(alias="from")
    to: datetime
    generated_at: datetime
    lender_id: str | None
    product: str | None = Field(None, description="The lender's product the report is for.")
    tree_head: TreeHeadView
    summary: dict[str, Any]
    releases: list[ReleaseCheck]
    findings: list[Finding]

    model_config = {"populate_by_name": True}


class OverdueAttestation(BaseModel):
    """A release whose data life has ended without the lender attesting deletion."""

    release_id: str
    consent_id: str
    lender_id: str
    released_at: datetime
    delete_by: datetime
    overdue_days: float
    leaf_index: int = Field(description="The release's `release.granted` audit leaf.")


class OverdueAttestations(BaseModel):
    """Overdue deletion attestations, oldest deadline first."""

    generated_at: datetime
    releases: list[OverdueAttestation]
    next_cursor: str | None


class ProductVersion(BaseModel):
    """One version of a lender's registered products (`lendgate products set`)."""

    version: str = Field(description="`sha256:` of the registered document.")
    registered_at: datetime
    codes: list[str]
    in_force: bool = Field(description="Whether this is the version in force now.")
    leaf_index: int | None = Field(
        description="Its `admin.product_set` audit leaf (null if the log holds none)."
    )


class FolderProduct(BaseModel):
    """A product a lender's file in the policy folder declares (part of `policy_version`)."""

    code: str
    title: dict[str, str]
    version: str = Field(description="`sha256:` of the product file.")


class LenderProducts(BaseModel):
    """One lender client's products: its policy-folder file's, and every registered version."""

    lender_id: str
    lender_name: str
    policy_folder: list[FolderProduct]
    registrations: list[ProductVersion] = Field(description="Oldest first.")


class ProductHistory(BaseModel):
    """Which products each lender client had when."""

    generated_at: datetime
    policy_version: str = Field(description="The catalog in force, product files included.")
    lenders: list[LenderProducts]
