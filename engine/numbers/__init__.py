"""Number formats: how ints and floats are stored, rounded and accumulated (no Qt)."""
