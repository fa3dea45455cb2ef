"""Governance's HTTP API: decisions by people, the kill switch, and the queries."""
