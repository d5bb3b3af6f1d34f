"""healerd: a self-healing daemon whose whole memory is a SQLite file."""

__version__ = "0.1.0"
