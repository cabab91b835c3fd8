"""Request and response shapes of the consent endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from gateway.borrowers.schemas import MOBILE_PATTERN
from gateway.privacy.recognizers import find_pii, is_valid_resident_id, is_valid_uscc


class Strict(BaseModel):
    """Input models refuse fields they do not know."""

    model_config = ConfigDict(extra="forbid")


class BorrowerIdentity(Strict):
    """Who the lender says the borrower is; kept only encrypted and as blind indexes."""

    id_number: str = Field(description="Resident ID number (GB 11643).")
    phone: str = Field(pattern=MOBILE_PATTERN, description="Mobile the borrower will confirm.")
    name: str = Field(min_length=2, max_length=30, pattern=r"^[\u4e00-\u9fff·]+$")

    @field_validator("id_number")
    @classmethod
    def _valid_resident_id(cls, value: str) -> str:
        value = value.strip().upper()
        # Sources key people by the 18-digit number; legacy 15-digit IDs must be upgraded first.
        if len(value) != 18 or not is_valid_resident_id(value):
            raise ValueError("not a valid resident ID number")
        return value


class FundingInstitution(Strict):
    """The funding institution a lending platform (助贷) asks on behalf of: shown to the
    borrower and named in the receipt; it receives nothing."""

    name: str = Field(
        min_length=2,
        max_length=100,
        pattern=r"^[\u4e00-\u9fffA-Za-z0-9（）()·&.,\- ]+$",
        description="Registered name, e.g. 示例消费金融有限公司.",
    )
    credit_code: str = Field(
        description="Unified social credit code (统一社会信用代码, GB 32100, 18 characters)."
    )

    @field_validator("name")
    @classmethod
    def _no_personal_data(cls, value: str) -> str:
        # A person's number in the name would be stored and shown: refused, never echoed.
        if find_pii(value):
            raise ValueError("the name carries what reads as personal data")
        return value

    @field_validator("credit_code")
    @classmethod
    def _valid_credit_code(cls, value: str) -> str:
        value = value.strip().upper()
        if not is_valid_uscc(value):
            raise ValueError("not a valid unified social credit code")
        return value


class FundingInstitutionView(BaseModel):
    """The funding institution of a consent; `credit_code` is null on consents asked for
    before the code was kept."""

    name: str
    credit_code: str | None


class Frequency(Strict):
    """At most `value` releases per calendar `unit`."""

    unit: Literal["DAY", "MONTH", "YEAR"]
    value: int = Field(ge=1, le=366)


class ConsentRequestCreate(Strict):
    """A lender's request for a borrower's consent (DESIGN: consent request body)."""

    borrower: BorrowerIdentity
    purpose: str | None = Field(
        None, max_length=64, description="The purpose; implied when `product` names one."
    )
    product: str | None = Field(
        None,
        max_length=64,
        description="One of this lender's own products (`GET /v1/catalog` with its token); "
        "its ceilings apply on top of the purpose's.",
    )
    features: list[str] = Field(min_length=1, max_length=64)
    fetch_type: Literal["ONETIME", "PERIODIC"]
    frequency: Frequency
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    data_range_months: int = Field(ge=1, le=120)
    data_life_days: int = Field(ge=1, le=3650)
    on_behalf_of: FundingInstitution | None = Field(
        None, description="The funding institution asked for, when a lending platform asks."
    )
    callback_url: HttpUrl | None = None


class ConsentTerms(BaseModel):
    """The immutable terms a consent was given on."""

    purpose: str
    product: str | None = Field(None, description="The lender's product it was asked under.")
    features: list[str]
    fetch_type: str
    frequency: Frequency
    valid_from: datetime
    valid_until: datetime
    data_range_months: int
    data_life_days: int
    on_behalf_of: FundingInstitutionView | None
    callback_url: str | None


class LenderConsentView(BaseModel):
    """What the requesting lender sees of a consent."""

    consent_id: str
    status: str
    terms: ConsentTerms
    borrower_ref: str
    borrower_display: dict[str, str]
    approval_url: str
    artefact: str | None
    use_count: int
    policy_version: str
    created_at: datetime
    request_expires_at: datetime


class Notice(BaseModel):
    """The plain-language notice of a consent, in Chinese and English."""

    title: dict[str, str]
    text: dict[str, str] = Field(description="The purpose's notice, as the catalog writes it.")
    why: dict[str, str] = Field(
        default_factory=dict,
        description="Why the lender asks, without numbers or data (those are the consent's).",
    )
    features: list[dict[str, Any]] = Field(
        description="The consent's features: `label`, `explanation`, `sources`, and the "
        "`output` (`type`, `unit`, `value_labels`) their values are shown with."
    )
    sources: list[str]
    source_titles: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Each source's title, zh and en."
    )
    summary: dict[str, str] = Field(
        default_factory=dict,
        description="Who asks (for whom), what, from where, how often, how long, the way out.",
    )
    withdrawal: dict[str, str] = Field(default_factory=dict, description="How to withdraw.")


class Approval(Strict):
    """Step-up confirmation: the code texted for this consent."""

    code: str = Field(pattern=r"^\d{6}$")


class Decision(BaseModel):
    """The outcome of a borrower's or lender's decision."""

    consent_id: str
    status: str
    changed: bool = Field(
        True, description="False when the consent already was in this state (a repeat)."
    )
    artefact: str | None = None
    receipt: dict[str, Any] | None = Field(
        None, description="The consent receipt (approve) or withdrawal receipt (revoke)."
    )
    receipt_jws: str | None = Field(None, description="The receipt as signed by the gateway.")


class ReceiptView(BaseModel):
    """A receipt as the gateway signed it (JWS, `typ` `consent-receipt+jwt`)."""

    receipt_id: str
    kind: str = Field(description="`consent` or `withdrawal`.")
    issued_at: datetime
    claims: dict[str, Any]
    jws: str


class ConsentReceipts(BaseModel):
    """The receipts of one consent: given, and (once ended by revocation) withdrawn."""

    consent_id: str
    consent_receipt: ReceiptView
    withdrawal_receipt: ReceiptView | None
