"""The release pipeline: consented features, fetched minimally, signed and encrypted."""
