"""The fleet tests' PostgreSQL fixtures live in tests/pgfixtures.py (the daemon-level fleet test uses them too)."""

from pgfixtures import centre, empty_centre, pg_server  # noqa: F401
