"""Error responses as OpenAPI sees them, so every route documents its refusals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gateway.core.errors import ALL_ERRORS


class ErrorBody(BaseModel):
    """`{"error": CODE, "detail": "..."}` — the body of every refusal."""

    error: str = Field(description="The error code (DESIGN's list), e.g. `ConsentNotFound`.")
    detail: str = Field(description="What was wrong, in words; never personal data.")


_BY_CODE = {error.code: error for error in ALL_ERRORS}

PAYLOAD_TOO_LARGE = 413
"""`InvalidRequest` said with 413: a body over `LENDGATE_MAX_REQUEST_BODY_BYTES`."""

AUTH_ERRORS = ("InvalidToken", "InsufficientScope")
"""What any client-authenticated route may answer before it looks at anything."""

CONSENT_STATE_ERRORS = (
    "ConsentNotFound",
    "ConsentPending",
    "ConsentRejected",
    "ConsentPaused",
    "ConsentRevoked",
    "ConsentExpired",
)
"""What a route acting on one consent may answer because of the consent's state."""


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` mapping for a route that may refuse with `codes`."""
    responses: dict[int | str, dict[str, Any]] = {}
    statuses = [(code, _BY_CODE[code].status) for code in codes]
    if "InvalidRequest" in codes:
        statuses.append(("InvalidRequest", PAYLOAD_TOO_LARGE))
    for code, status in statuses:
        entry = responses.setdefault(status, {"model": ErrorBody, "description": ""})
        entry["description"] = ", ".join(filter(None, [entry["description"], f"`{code}`"]))
    if PAYLOAD_TOO_LARGE in responses:
        responses[PAYLOAD_TOO_LARGE]["description"] += " (the body is larger than the limit)"
    return responses
