"""Request and response shapes of the consent endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from gateway.borrowers.schemas import MOBILE_PATTERN
from gateway.privacy.recognizers import find_pii, is_valid_resident_id, is_valid_uscc


class Strict(BaseModel):
    """Input models refuse fields they do not know."""

    model_config = ConfigDict(extra="forbid")


class BorrowerIdentity(Strict):
    """Who the lender says the borrower is; kept only encrypted and as blind indexes."""

    id_number: str = Field(description="Resident ID number (GB 11643).")
    phone: str = Field(pattern=MOBILE_PATTERN, description="Mobile the borrower will confirm.")
    name: str = Field(
        min_length=2,
        max_length=30,
        pattern=r"^[\u4e00-\u9fff·]+$",
        description="Name in Chinese characters, as on the resident ID.",
    )

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

    name: str = Field(description="The institution's registered name.")
    credit_code: str | None = Field(description="Its unified social credit code (18 characters).")


class Frequency(Strict):
    """At most `value` releases per calendar `unit`."""

    unit: Literal["DAY", "MONTH", "YEAR"] = Field(
        description="The calendar interval, in Beijing time."
    )
    value: int = Field(ge=1, le=366, description="Releases allowed in one interval.")


CONSENT_REQUEST_EXAMPLE: dict[str, Any] = {
    # 张三, a fictional sandbox identity every source simulator holds.
    "borrower": {"id_number": "11010519491231002X", "phone": "13800138000", "name": "张三"},
    "purpose": "consumer_installment_underwriting",
    "features": ["si_active", "hf_status", "income_proxy_band", "cb_overdue_accounts_24m"],
    "fetch_type": "ONETIME",
    # A window that starts later is allowed; releases before it are `ConsentNotYetValid`.
    "valid_from": "2030-01-01T00:00:00+08:00",
    "valid_until": "2030-01-31T00:00:00+08:00",
    "data_range_months": 24,
    "data_life_days": 30,
    "on_behalf_of": {"name": "示例消费金融有限公司", "credit_code": "91110000MA0000001L"},
    "callback_url": "https://lender.example/hooks/lendgate",
}
"""The request `/docs` shows: valid as written, for the sandbox and the shipped catalog."""

ONETIME_FREQUENCY = Frequency(unit="YEAR", value=1)
"""What a `ONETIME` request that names no frequency keeps (it never limits one release)."""


class ConsentRequestCreate(Strict):
    """A lender's request for a borrower's consent (DESIGN: consent request body)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [CONSENT_REQUEST_EXAMPLE]}
    )

    borrower: BorrowerIdentity = Field(
        description="Who the lender says the borrower is; the borrower confirms on their phone."
    )
    purpose: str | None = Field(
        None,
        max_length=64,
        description="A purpose code of `GET /v1/catalog`; implied when `product` names one.",
    )
    product: str | None = Field(
        None,
        max_length=64,
        description="One of this lender's own products (`GET /v1/catalog` with its token); "
        "its ceilings apply on top of the purpose's.",
    )
    features: list[str] = Field(
        min_length=1,
        max_length=64,
        description="The features asked for, each allowed by the purpose (`GET /v1/catalog`).",
    )
    fetch_type: Literal["ONETIME", "PERIODIC"] = Field(
        description="`ONETIME`: one release ever. `PERIODIC`: up to `frequency`, within the window."
    )
    frequency: Frequency | None = Field(
        None,
        description="How often a `PERIODIC` consent may release (required for it). A `ONETIME` "
        "consent releases once ever and may leave it out.",
    )
    valid_from: AwareDatetime = Field(
        description="When releases may start (RFC 3339 with offset; may lie in the future)."
    )
    valid_until: AwareDatetime = Field(
        description="When the consent ends; the window at most the purpose's maximum validity."
    )
    data_range_months: int = Field(
        ge=1, le=120, description="How many months of records back a release may read."
    )
    data_life_days: int = Field(
        ge=1, le=3650, description="How long the lender may keep a release before deleting it."
    )
    on_behalf_of: FundingInstitution | None = Field(
        None,
        description="The funding institution, when a lending platform (助贷) asks for it; "
        "shown to the borrower, receives nothing.",
    )
    callback_url: HttpUrl | None = Field(
        None,
        description="Where the consent's events are POSTed (https; see the `consentEvent` "
        "callback); left out, no events are sent.",
    )

    @model_validator(mode="after")
    def _periodic_needs_frequency(self) -> ConsentRequestCreate:
        if self.fetch_type == "PERIODIC" and self.frequency is None:
            raise ValueError(
                'a PERIODIC consent needs `frequency`, e.g. {"unit": "MONTH", "value": 1}'
            )
        return self

    @property
    def release_frequency(self) -> Frequency:
        """The frequency the consent keeps: the one asked for, or for `ONETIME` once a year.

        A one-time consent releases once ever, so its frequency never limits it; once a
        year is the slowest there is and so fits within every purpose's maximum.
        """
        return self.frequency or ONETIME_FREQUENCY


class ConsentTerms(BaseModel):
    """The immutable terms a consent was given on."""

    purpose: str = Field(description="The purpose code.")
    product: str | None = Field(None, description="The lender's product it was asked under.")
    features: list[str] = Field(description="The features consented to.")
    fetch_type: str = Field(description="`ONETIME` or `PERIODIC`.")
    frequency: Frequency = Field(
        description="Releases per calendar interval (a `ONETIME` request that named none: "
        "once a `YEAR`, never more than its one release)."
    )
    valid_from: datetime = Field(description="When releases may start.")
    valid_until: datetime = Field(description="When the consent ends.")
    data_range_months: int = Field(description="Months of records a release may read.")
    data_life_days: int = Field(description="Days the lender may keep a release.")
    on_behalf_of: FundingInstitutionView | None = Field(
        description="The funding institution named, if any."
    )
    callback_url: str | None = Field(description="Where the consent's events go, if anywhere.")


class LenderConsentView(BaseModel):
    """What the requesting lender sees of a consent."""

    consent_id: str = Field(description="The consent's id.")
    status: str = Field(
        description="`PENDING`, `ACTIVE`, `PAUSED`, `REJECTED`, `REVOKED` or `EXPIRED` "
        "(expiry computed from the clock)."
    )
    terms: ConsentTerms = Field(description="The terms asked for, immutable once approved.")
    borrower_ref: str = Field(
        description="The borrower's pairwise pseudonym for this lender (as in releases)."
    )
    borrower_display: dict[str, str] = Field(
        description="The borrower's identity masked for display: `name`, `id_number`, `phone`."
    )
    approval_url: str = Field(description="Where to send the borrower to read and decide.")
    artefact: str | None = Field(
        description="The signed consent artefact (JWS, `typ` `consent+jwt`) once approved."
    )
    use_count: int = Field(description="Releases made under the consent so far.")
    policy_version: str = Field(description="The catalogs' digest the request was judged by.")
    created_at: datetime = Field(description="When the request was made.")
    request_expires_at: datetime = Field(
        description="Until when a `PENDING` request waits for the borrower."
    )


class Notice(BaseModel):
    """The plain-language notice of a consent, in Chinese and English."""

    title: dict[str, str] = Field(description="The notice's title, zh and en.")
    text: dict[str, str] = Field(description="The purpose's notice, as the catalog writes it.")
    why: dict[str, str] = Field(
        default_factory=dict,
        description="Why the lender asks, without numbers or data (those are the consent's).",
    )
    features: list[dict[str, Any]] = Field(
        description="The consent's features: `label`, `explanation`, `sources`, and the "
        "`output` (`type`, `unit`, `value_labels`) their values are shown with."
    )
    sources: list[str] = Field(description="The sources the consent reads, by name.")
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

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "615204"}]})

    code: str = Field(
        pattern=r"^\d{6}$", description="The six-digit `approve` code texted for this consent."
    )


class Decision(BaseModel):
    """The outcome of a borrower's or lender's decision."""

    consent_id: str = Field(description="The consent decided on.")
    status: str = Field(description="The consent's state after the decision.")
    changed: bool = Field(
        True, description="False when the consent already was in this state (a repeat)."
    )
    artefact: str | None = Field(
        None, description="The signed consent artefact (compact JWS), once approved."
    )
    receipt: dict[str, Any] | None = Field(
        None, description="The consent receipt (approve) or withdrawal receipt (revoke)."
    )
    receipt_jws: str | None = Field(None, description="The receipt as signed by the gateway.")


class ReceiptView(BaseModel):
    """A receipt as the gateway signed it (JWS, `typ` `consent-receipt+jwt`)."""

    receipt_id: str = Field(description="The receipt's id.")
    kind: str = Field(description="`consent` or `withdrawal`.")
    issued_at: datetime = Field(description="When the gateway signed it.")
    claims: dict[str, Any] = Field(description="The receipt's claims, as signed.")
    jws: str = Field(
        description="The receipt as a compact JWS; verify it with `/.well-known/jwks.json`."
    )


class ConsentReceipts(BaseModel):
    """The receipts of one consent: given, and (once ended by revocation) withdrawn."""

    consent_id: str = Field(description="The consent the receipts are for.")
    consent_receipt: ReceiptView = Field(description="Given when the borrower approved.")
    withdrawal_receipt: ReceiptView | None = Field(
        description="Given when the consent was revoked; null otherwise."
    )
