"""The tamper-evident audit log: every access and decision, hashed per RFC 6962."""
