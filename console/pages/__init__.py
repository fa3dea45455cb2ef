"""What each page shows, computed from what the services answered: plain functions, no I/O."""
