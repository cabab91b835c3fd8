"""The regulator's oversight: the compliance report, overdue attestations, co-signing, export."""
