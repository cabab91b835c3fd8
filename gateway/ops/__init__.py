"""Operations: the gateway's public keys and catalog, health, readiness and metrics."""
