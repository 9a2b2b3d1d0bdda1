"""Outgoing SMS and email. Every message, sent or failed, is kept in the outbox."""
