"""Lendgate client SDK: what lenders, regulators and the demo use to talk to the gateway."""

from gateway.crypto.jose import generate_client_jwks
from gateway.sdk.lender import (
    LendgateAPIError,
    LendgateClient,
    LendgateSDKError,
    RegulatorClient,
    Release,
    ReleaseVerificationError,
)

__all__ = [
    "LendgateAPIError",
    "LendgateClient",
    "LendgateSDKError",
    "RegulatorClient",
    "Release",
    "ReleaseVerificationError",
    "generate_client_jwks",
]
