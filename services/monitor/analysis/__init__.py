"""What the monitor knows, apart from how it is stored or reached: drift statistics and
their decision, window counts, the reference compiled from a profile, performance on
labels, thresholds and the alert episode's state machine. Pure functions and values on
numpy; no SQL, no Kafka, no HTTP."""
