"""All of the registry's SQL: the statements, the queries and the calls that run them.

Each function takes the connection of a transaction the caller holds (or a plain pooled
connection for reads) and returns plain values or the registry's own event payloads;
nothing outside this package speaks to the registry's schema.
"""
