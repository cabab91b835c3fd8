"""API hardening shared by every endpoint: security headers, body limits, rate limits, DPoP,
principals and the gateway's own tokens."""
