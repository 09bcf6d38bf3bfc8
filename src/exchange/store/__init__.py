"""The store port and its implementations: embedded (SQLite) and, to come, Redis."""
