"""Contracts on the bus: the CloudEvents envelope, one payload model per topic, the topic table."""
