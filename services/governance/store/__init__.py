"""All of governance's SQL: the audit log, the inventory it projects, reviews and approvals.

Every function takes the connection of a transaction its caller holds; what must happen
together (append, project, decide) is decided above this package, never in it.
"""
