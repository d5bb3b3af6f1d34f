"""Where healerd looks by default: flags, then healerd's variables, then systemd's, then /etc and /var."""

from __future__ import annotations

from pathlib import Path

from daemon.paths import default_config_dir, default_db_path, default_runtime_dir, migrations_dir, schema_dir


def test_config_dir_precedence():
    assert default_config_dir({}) == Path("/etc/healerd")
    assert default_config_dir({"CONFIGURATION_DIRECTORY": "/etc/healerd-sd:/other"}) == Path("/etc/healerd-sd")
    assert default_config_dir({"CONFIGURATION_DIRECTORY": "/sd", "HEALERD_CONFIG": "/mine"}) == Path("/mine")


def test_database_precedence():
    assert default_db_path({}) == Path("/var/lib/healerd/healerd.db")
    assert default_db_path({"STATE_DIRECTORY": "/var/lib/x"}) == Path("/var/lib/x/healerd.db")
    assert default_db_path({"STATE_DIRECTORY": "/var/lib/x", "HEALERD_DB": "/tmp/h.db"}) == Path("/tmp/h.db")


def test_runtime_dir_follows_systemd():
    assert default_runtime_dir({}) == Path("/run/healerd")
    assert default_runtime_dir({"RUNTIME_DIRECTORY": "/run/h"}) == Path("/run/h")


def test_bundled_migrations_and_schema_are_found_from_a_checkout():
    assert (migrations_dir() / "env.py").is_file()
    assert (schema_dir() / "views").is_dir()
