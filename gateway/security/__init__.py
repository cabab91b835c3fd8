"""API hardening shared by every endpoint: security headers, body limits, rate limits, DPoP."""
