"""The console's browser tests reuse the portal's fixtures: a gateway on a socket, Chromium.

Without Chromium (or selenium) they skip, except under `CI=true`, where they fail.
"""

from __future__ import annotations

from tests.portal.conftest import browser, live_gateway

__all__ = ["browser", "live_gateway"]
