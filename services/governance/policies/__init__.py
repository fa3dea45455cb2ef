"""Shipped governance policies (YAML); see services/governance/policy/rules.py."""
