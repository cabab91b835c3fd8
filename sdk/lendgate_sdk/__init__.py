"""Lendgate client SDK: what lenders, regulators and the demo use to talk to the gateway."""

from lendgate_sdk.client import (
    ASSERTION_LIFETIME_SECONDS,
    ASSERTION_TYPE,
    LendgateClient,
    RegulatorClient,
    Release,
)
from lendgate_sdk.errors import (
    LendgateAPIError,
    LendgateSDKError,
    NotificationVerificationError,
    ReleaseVerificationError,
)
from lendgate_sdk.jose import generate_client_jwks

__all__ = [
    "ASSERTION_LIFETIME_SECONDS",
    "ASSERTION_TYPE",
    "LendgateAPIError",
    "LendgateClient",
    "LendgateSDKError",
    "NotificationVerificationError",
    "RegulatorClient",
    "Release",
    "ReleaseVerificationError",
    "generate_client_jwks",
]
