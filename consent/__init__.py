"""The consent domain: lifecycle, terms, artefacts, and what borrowers see and decide."""
