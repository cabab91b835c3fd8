"""Shapes of the token endpoint's answers."""

from __future__ import annotations

from pydantic import BaseModel


class TokenResponse(BaseModel):
    """An OAuth2 access token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
