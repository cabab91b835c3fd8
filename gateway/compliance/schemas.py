"""Shapes of the regulator's compliance endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.audit.schemas import TreeHeadView
from gateway.compliance.rules import Finding


class ReleaseCheck(BaseModel):
    """One release checked against its consent as it stood at that moment."""

    leaf_index: int = Field(description="The release's `release.granted` audit leaf.")
    ts: str = Field(description="When the release was logged (the leaf's `ts`, RFC 3339 UTC).")
    consent_id: str | None = Field(description="The consent it was released under.")
    lender_id: str | None = Field(description="The lender it was released to.")
    consent_status: str | None = Field(description="The consent's state replayed from the log.")
    checks: dict[str, bool] = Field(
        description="Each rule checked and whether the release kept it: `consent_known`, "
        "`lender`, `state`, `window`, `budget`, `purpose`, `features`, `source_fields`, "
        "`product`, `authorization_letter`."
    )
    compliant: bool = Field(description="Whether every check passed.")


class ComplianceReport(BaseModel):
    """Releases in a time range reconciled against consents, overdue deletions, anomalies."""

    from_: datetime = Field(alias="from", description="Start of the range checked.")
    to: datetime = Field(description="End of the range checked.")
    generated_at: datetime = Field(description="When the report was made.")
    lender_id: str | None = Field(description="The lender the report is for; null for all.")
    product: str | None = Field(None, description="The lender's product the report is for.")
    tree_head: TreeHeadView = Field(
        description="The signed tree head the report was read under: its findings hold for "
        "the first `tree_size` leaves."
    )
    summary: dict[str, Any] = Field(
        description="Counts: `releases`, `compliant_releases`, `denied_releases`, `findings` "
        "and `by_kind` (findings per kind)."
    )
    releases: list[ReleaseCheck] = Field(description="Every release in the range, checked.")
    findings: list[Finding] = Field(
        description="Anomalies and breaches, each pointing at the leaves that show it."
    )

    model_config = {"populate_by_name": True}


class OverdueAttestation(BaseModel):
    """A release whose data life has ended without the lender attesting deletion."""

    release_id: str = Field(description="The release whose copy should have been deleted.")
    consent_id: str = Field(description="The consent it was released under.")
    lender_id: str = Field(description="The lender that holds the copy.")
    released_at: datetime = Field(description="When the data was released.")
    delete_by: datetime = Field(description="When the lender had to delete it (data life).")
    overdue_days: float = Field(description="Days past `delete_by`, as of `generated_at`.")
    leaf_index: int = Field(description="The release's `release.granted` audit leaf.")


class OverdueAttestations(BaseModel):
    """Overdue deletion attestations, oldest deadline first."""

    generated_at: datetime = Field(description="When the list was read.")
    releases: list[OverdueAttestation] = Field(description="Overdue releases on this page.")
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page."
    )


class ProductVersion(BaseModel):
    """One version of a lender's registered products (`lendgate products set`)."""

    version: str = Field(description="`sha256:` of the registered document.")
    registered_at: datetime = Field(description="When it was registered.")
    codes: list[str] = Field(description="The product codes it declares.")
    in_force: bool = Field(description="Whether this is the version in force now.")
    leaf_index: int | None = Field(
        description="Its `admin.product_set` audit leaf (null if the log holds none)."
    )


class FolderProduct(BaseModel):
    """A product a lender's file in the policy folder declares (part of `policy_version`)."""

    code: str = Field(description="The product's code.")
    title: dict[str, str] = Field(description="The product's title, zh and en.")
    version: str = Field(description="`sha256:` of the product file.")


class LenderProducts(BaseModel):
    """One lender client's products: its policy-folder file's, and every registered version."""

    lender_id: str = Field(description="The lender client's id.")
    lender_name: str = Field(description="The name the lender client was registered with.")
    policy_folder: list[FolderProduct] = Field(
        description="The products of its file in the policy folder, if any."
    )
    registrations: list[ProductVersion] = Field(description="Oldest first.")


class ProductHistory(BaseModel):
    """Which products each lender client had when."""

    generated_at: datetime = Field(description="When the history was read.")
    policy_version: str = Field(description="The catalog in force, product files included.")
    lenders: list[LenderProducts] = Field(description="Every lender client, by id.")
