"""Policies as code: the rules a model version must meet before it may serve."""
