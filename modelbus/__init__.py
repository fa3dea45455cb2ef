"""modelbus: an event-driven ModelOps platform."""
