"""All of the monitor's SQL: each module reads and writes one part of its schema.

Every function takes the connection of the caller's transaction (or the pool, for a
read on its own), so what a handler or a worker step writes commits or rolls back as one.
"""
