"""Code every modelbus service shares: contracts on the bus, reliable messaging, storage, operations."""
