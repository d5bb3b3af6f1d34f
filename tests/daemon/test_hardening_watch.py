"""Issue 16 item 2 on a running daemon: a file name that is not valid UTF-8 in policies.d/ is named
(escaped) in config_errors, rejected, and the directory is still watched (a later file still loads)."""

from __future__ import annotations

import os

from helpers import wait_until
from test_lifecycle import tcp_component


def _results(d, name: str) -> int:
    return d.query(
        "SELECT count(*) FROM check_results r JOIN components c ON c.id = r.component_id WHERE c.name = ?", (name,)
    )[0][0]


def test_a_non_utf8_file_name_is_named_rejected_and_the_watcher_keeps_watching(config_dir, start_daemon, listener):
    config_dir.policy("a.toml", tcp_component("a", listener().port))
    d = start_daemon(config_dir)
    bad = os.path.join(os.fsencode(config_dir.root / "policies.d"), b"bad-\xff\xfe-name.toml")
    with open(bad, "w") as f:
        f.write(tcp_component("x", listener().port))
    os.chmod(bad, 0o644)
    wait_until(
        lambda: d.query("SELECT path FROM config_errors WHERE resolved_at IS NULL"),
        30,
        message=lambda: d.log.read_text()[-3000:],
    )
    assert d.query("SELECT path, message FROM config_errors WHERE resolved_at IS NULL") == [
        ("policies.d/bad-\\xff\\xfe-name.toml", "the file name is not valid UTF-8, so it is not loaded: rename it")
    ]

    # still watching, without a signal: a new good file loads and is checked
    config_dir.policy("c.toml", tcp_component("c", listener().port))
    wait_until(lambda: _results(d, "c") >= 1, 30, message=lambda: d.log.read_text()[-3000:])
    assert _results(d, "x") == 0 and d.proc.poll() is None
    assert d.stop() == 0
