"""Experiment files are validated when loaded, not when a run reaches the bad value."""

from __future__ import annotations

import os

from test_changed_on_disk import _config_dir, _write

from daemon.config.loader import load_config


def test_a_kill_fault_with_an_unknown_signal_is_a_config_error_naming_the_key(tmp_path):
    root = _config_dir(tmp_path)
    (root / "experiments.d").mkdir()
    os.chmod(root / "experiments.d", 0o755)
    _write(
        root / "experiments.d" / "x.toml",
        """
[experiment]
name = "x"
target = "a"
fault = { kind = "kill", signal = "KLL" }
duration = "10s"
""",
    )
    loaded, problems = load_config(root)
    assert loaded is None
    assert any(p.key == "experiment.fault.signal" and "unknown signal" in p.message for p in problems), problems
