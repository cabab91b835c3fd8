"""Request and response shapes of borrower login."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MOBILE_PATTERN = r"^1[3-9]\d{9}$"
SANDBOX_PHONE = "13800138000"
"""张三's phone, a sandbox identity every simulator holds (examples only)."""


class CodeRequest(BaseModel):
    """Ask for a one-time code: `login`, or `approve` (step-up for one consent)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": SANDBOX_PHONE, "purpose": "login"}]},
    )

    phone: str = Field(pattern=MOBILE_PATTERN, description="Mainland mobile number.")
    purpose: Literal["login", "approve"] = Field(
        "login",
        description="`login` opens a session; `approve` (while logged in) texts the step-up "
        "code for the consent named by `consent_id`. Left out, it is `approve` when a "
        "`consent_id` is given and `login` otherwise.",
    )
    consent_id: str | None = Field(
        None, max_length=64, description="The consent an `approve` code is for; only with it."
    )

    @model_validator(mode="before")
    @classmethod
    def _implied_purpose(cls, data: Any) -> Any:
        # A code for one consent can only be an approval code.
        if isinstance(data, dict) and "purpose" not in data and data.get("consent_id"):
            return {**data, "purpose": "approve"}
        return data

    @model_validator(mode="after")
    def _consent_only_for_approval(self) -> CodeRequest:
        if self.purpose == "login" and self.consent_id is not None:
            raise ValueError(
                'a login code is for no consent: send {"purpose": "approve", "consent_id": ...} '
                "(logged in) for the code that approves one, or leave `consent_id` out to log in"
            )
        return self


class CodeSent(BaseModel):
    """The code is on its way (the answer is the same whether or not the phone is known)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"sent": True, "expires_in": 300}]})

    sent: bool = Field(True, description="Always true: the request was taken.")
    expires_in: int = Field(description="Seconds the code stays valid once texted.")


class SessionRequest(BaseModel):
    """Log in with the code received."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": SANDBOX_PHONE, "code": "482913", "delivery": "bearer"}]
        },
    )

    phone: str = Field(
        pattern=MOBILE_PATTERN, description="The mainland mobile number the code was sent to."
    )
    code: str = Field(pattern=r"^\d{6}$", description="The six-digit code texted to it.")
    delivery: Literal["bearer", "cookie"] = Field(
        "bearer",
        description="`bearer`: the session token is in the answer (apps). `cookie`: it is "
        "set as an HttpOnly cookie and the answer carries the CSRF token to send as "
        "`X-CSRF-Token` with every change (browsers).",
    )


class BorrowerSession(BaseModel):
    """A borrower session: a bearer token for an app, or (cookie) the CSRF token for a browser."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsInR5cCI6ImJvcnJvd2VyK2p3dCJ9"
                    ".eyJzaWQiOiJzZXNfN2MzZSJ9.c2lnbmF0dXJl",
                    "token_type": "Bearer",
                    "expires_in": 1800,
                },
                {
                    "expires_in": 1800,
                    "csrf_token": "Q2hlY2tTdW1PZlRoZVNlc3Npb25JZEtleWVkSE1BQw",
                },
            ]
        }
    )

    access_token: str | None = Field(
        None,
        description="`bearer` delivery: the session token, sent as `Authorization: Bearer`; "
        "left out with cookie delivery.",
    )
    token_type: str | None = Field(
        "Bearer", description="`Bearer` with bearer delivery; left out with cookie delivery."
    )
    expires_in: int = Field(description="Seconds until the session ends.")
    csrf_token: str | None = Field(
        None,
        description="`cookie` delivery: the token to send as `X-CSRF-Token` with every "
        "change; left out with bearer delivery.",
    )
