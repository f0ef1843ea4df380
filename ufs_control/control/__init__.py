"""The controller: feedforward model, PI correction (simple-pid), gain schedule, hand-over logic."""
