"""Borrower login: one-time codes over SMS and short-lived borrower sessions."""
