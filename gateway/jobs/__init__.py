"""Periodic work: one scheduler; each domain registers its jobs."""
