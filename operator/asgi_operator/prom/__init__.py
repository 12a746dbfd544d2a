"""Prometheus I/O (queries with timeouts and typed errors)."""
