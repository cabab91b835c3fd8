"""One error family for the whole gateway.

Every refusal the API can give is a `LendgateError` subclass carrying the public
error code of DESIGN.md; one handler renders it as `{"error": CODE, "detail": ...}`.
Details are written for the caller and never carry personal data or internals.
"""

from __future__ import annotations

from typing import ClassVar


class LendgateError(Exception):
    """Base of every error the gateway reports to a caller."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_detail: ClassVar[str] = "The gateway could not complete the request."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def body(self) -> dict[str, str]:
        """The JSON body every endpoint answers with for this error."""
        return {"error": self.code, "detail": self.detail}


class ConsentNotFound(LendgateError):
    code = "ConsentNotFound"
    status = 404
    default_detail = "No such consent."


class ConsentStateError(LendgateError):
    """A consent exists but its state does not allow the action."""

    status = 403


class ConsentPending(ConsentStateError):
    code = "ConsentPending"
    default_detail = "The borrower has not approved this consent yet."


class ConsentRejected(ConsentStateError):
    code = "ConsentRejected"
    default_detail = "The borrower rejected this consent."


class ConsentPaused(ConsentStateError):
    code = "ConsentPaused"
    default_detail = "The borrower has paused this consent."


class ConsentRevoked(ConsentStateError):
    code = "ConsentRevoked"
    default_detail = "This consent has been revoked."


class ConsentExpired(ConsentStateError):
    code = "ConsentExpired"
    default_detail = "This consent has expired."


class ConsentNotYetValid(ConsentStateError):
    code = "ConsentNotYetValid"
    default_detail = "This consent's validity window has not started."


class FrequencyExceeded(LendgateError):
    code = "FrequencyExceeded"
    status = 429
    default_detail = "The consent's release budget for this interval is used up."


class PurposeViolation(LendgateError):
    code = "PurposeViolation"
    status = 422
    default_detail = "A feature or term lies outside the purpose."


class PolicyViolation(LendgateError):
    code = "PolicyViolation"
    status = 422
    default_detail = "The request breaks the gateway's policy."


class EgressBlocked(LendgateError):
    code = "EgressBlocked"
    status = 502
    default_detail = "The outbound payload carried personal data; nothing was released."


class SourceUnavailable(LendgateError):
    code = "SourceUnavailable"
    status = 503
    default_detail = "A data source did not answer correctly; nothing was released."


RETRY_AFTER_SECONDS = 5
"""What a `503` asks the caller to wait before retrying."""


class AuditUnavailable(LendgateError):
    """The database (and with it the audit log) did not answer: retry after `Retry-After`."""

    code = "AuditUnavailable"
    status = 503
    default_detail = "The audit log could not be written; nothing was released."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(
            detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
        )


class InvalidToken(LendgateError):
    code = "InvalidToken"
    status = 401
    default_detail = "The credential is missing, malformed, expired or not valid here."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class InsufficientScope(LendgateError):
    code = "InsufficientScope"
    status = 403
    default_detail = "The token does not carry the scope this endpoint needs."


class InvalidRequest(LendgateError):
    code = "InvalidRequest"
    status = 422
    default_detail = "The request is malformed."


class RateLimited(LendgateError):
    code = "RateLimited"
    status = 429
    default_detail = "Too many requests; retry later."


ALL_ERRORS: tuple[type[LendgateError], ...] = (
    ConsentNotFound,
    ConsentPending,
    ConsentRejected,
    ConsentPaused,
    ConsentRevoked,
    ConsentExpired,
    ConsentNotYetValid,
    FrequencyExceeded,
    PurposeViolation,
    PolicyViolation,
    EgressBlocked,
    SourceUnavailable,
    AuditUnavailable,
    InvalidToken,
    InsufficientScope,
    InvalidRequest,
    RateLimited,
)
