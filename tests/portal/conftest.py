"""The portal's browser tests use the shared fixtures: a gateway on a socket, Chromium.

Without Chromium (or selenium) they skip, except under `CI=true`, where they fail.
"""

from __future__ import annotations

from tests.browser import browser, live_gateway

__all__ = ["browser", "live_gateway"]
