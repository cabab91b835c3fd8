"""Lender notifications: signed consent events, a transactional outbox, delivery with retries."""
