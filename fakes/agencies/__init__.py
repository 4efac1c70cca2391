"""One router per agency, each over its own SQLite store."""

__all__ = ["health", "justice", "police", "social", "vss"]
