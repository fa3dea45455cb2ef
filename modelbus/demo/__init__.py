"""``modelbus demo``: the whole lifecycle, closed loop included, on a running platform."""
