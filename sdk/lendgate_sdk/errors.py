"""The errors the SDK raises: API refusals, and releases or events that do not verify."""

from __future__ import annotations


class LendgateSDKError(Exception):
    """Base of every error the SDK raises itself."""


class LendgateAPIError(LendgateSDKError):
    """The gateway refused a request; `code` is the public error code of its answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(f"{status} {code}: {detail}")


class TokenRejected(LendgateSDKError):
    """A JWS or JWE did not verify or decrypt; `detail` says why, without token content."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotificationVerificationError(LendgateSDKError):
    """A consent event did not verify as the gateway's, for this client; ignore it."""


class ReleaseVerificationError(LendgateSDKError):
    """A release could not be decrypted or verified; none of its content may be used."""
