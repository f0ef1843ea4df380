"""The run loop: state machine, interlocks, run records, metrics (plain thread, no Qt)."""
