"""Protection primitives: Chinese PII recognizers, display masking, log redaction, egress guard."""
