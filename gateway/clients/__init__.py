"""Registered API clients (lenders, regulators) and the OAuth2 token endpoint."""
