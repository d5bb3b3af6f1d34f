"""The watcher's start-up check: did the directory change since it was loaded?"""

from __future__ import annotations

import os

from daemon.config.loader import changed_on_disk, load_config

POLICY = """
[[component]]
name = "{name}"
[component.check]
kind = "tcp"
port = 1
"""


def _write(path, text):
    path.write_text(text)
    os.chmod(path, 0o644)


def _config_dir(tmp_path):
    root = tmp_path / "etc"
    (root / "policies.d").mkdir(parents=True)
    for d in (root, root / "policies.d"):
        os.chmod(d, 0o755)
    _write(root / "policies.d" / "a.toml", POLICY.format(name="a"))
    return root


def test_an_untouched_directory_is_unchanged(tmp_path):
    loaded, problems = load_config(_config_dir(tmp_path))
    assert problems == [] and changed_on_disk(loaded) is False


def test_a_file_added_after_the_load_is_a_change(tmp_path):
    root = _config_dir(tmp_path)
    loaded, _ = load_config(root)
    _write(root / "policies.d" / "b.toml", POLICY.format(name="b"))
    assert changed_on_disk(loaded) is True


def test_a_file_rewritten_after_the_load_is_a_change(tmp_path):
    root = _config_dir(tmp_path)
    loaded, _ = load_config(root)
    path = root / "policies.d" / "a.toml"
    stat = path.stat()
    _write(path, POLICY.format(name="a2"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert changed_on_disk(loaded) is True


def test_a_removed_file_is_a_change(tmp_path):
    root = _config_dir(tmp_path)
    _write(root / "policies.d" / "b.toml", POLICY.format(name="b"))
    loaded, _ = load_config(root)
    (root / "policies.d" / "b.toml").unlink()
    assert changed_on_disk(loaded) is True
