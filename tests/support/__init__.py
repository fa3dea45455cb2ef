"""Helpers the test tiers share: infrastructure for the session, polling with deadlines."""
