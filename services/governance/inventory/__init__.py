"""The model inventory governance keeps from the events it consumes (never another's tables)."""
