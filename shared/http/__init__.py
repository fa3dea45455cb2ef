"""What every service's HTTP port has: health, readiness, metrics, and one error format."""
