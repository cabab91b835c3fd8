"""Shapes of the token endpoint's answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TOKEN_EXAMPLE: dict[str, Any] = {
    "access_token": "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJsbmRfMGQxZTJmM2E0YjVjNGQ2ZThmN2E5YjBjIn0.c2lnbmF0dXJl",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "consents:write features:read",
}
"""What a token answer looks like (the token shortened)."""


class TokenResponse(BaseModel):
    """An OAuth2 access token (RFC 6749 §5.1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_EXAMPLE]})

    access_token: str = Field(description="The access token (a JWT signed by the gateway).")
    token_type: str = Field(
        "Bearer", description="`Bearer`, or `DPoP` when the token is bound to a DPoP key."
    )
    expires_in: int = Field(description="Seconds until it expires (5 minutes).")
    scope: str = Field(description="The scopes granted, space-separated.")
