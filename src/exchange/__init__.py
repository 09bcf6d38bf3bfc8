"""exchange: a small, real, fast coin exchange."""
