"""Postgres access, forward-only migrations and the content-addressed artifact store."""
