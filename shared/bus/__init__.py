"""Reliable messaging: outbox and relay, inbox dedupe, dead letters, and the Kafka plumbing."""
