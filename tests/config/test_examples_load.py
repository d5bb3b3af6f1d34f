"""The issue's example loads exactly as written, and the shipped examples/ directory loads clean."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

from config_helpers import DB_AND_STANDBY, SETTINGS

from daemon.config.loader import load_config
from daemon.config.models import EscalateStep, FallbackStep, HttpCheck, KillFault, RestoreStep, RetryStep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Literally the text of the issue (foundation issue, section 2), comments and all.
ISSUE_EXAMPLE = """
# policies.d/app.toml
[[component]]
name = "app"
description = "orders API"
weight = 3.0                      # share of the system health score (default 1.0)
depends_on = ["db"]               # healed only once its dependencies are healthy
pidfile = "/run/app/app.pid"      # optional: how process checks and kill faults find the process

[component.check]
kind = "http"                     # http | tcp | exec | process | systemd | file | disk | sqlite
url = "http://127.0.0.1:8080/healthz"
every = "5s"
timeout = "2s"
expect_status = [200]
degraded_over = "300ms"           # passes, but slower than this counts as degraded

[component.breaker]
consecutive_failures = 3          # open after this many failures in a row ...
failure_rate = 0.5                # ... or this share of failures over the window
window = 20                       # the last N checks
min_checks = 10                   # the rate rule applies only after this many checks
open_for = "30s"                  # then half-open; doubles on each re-open ...
max_open_for = "10m"              # ... up to this
half_open_successes = 2           # successes needed to close again

[[component.recovery]]            # the ladder, tried top to bottom
strategy = "retry"
action = { run = ["systemctl", "restart", "app.service"], timeout = "30s" }
attempts = 3                      # budget of this step ...
within = "10m"                    # ... inside this window
backoff = { initial = "1s", max = "30s", multiplier = 2.0, jitter = "full" }

[[component.recovery]]
strategy = "restore"
checkpoint = "app-config"
then = { run = ["systemctl", "restart", "app.service"], timeout = "30s" }

[[component.recovery]]
strategy = "fallback"
candidates = ["app-standby"]      # other components
select = "sequential"             # sequential | weighted | random | fastest
activate = { run = ["/usr/local/bin/route-to", "{candidate}"], timeout = "10s" }
deactivate = { run = ["/usr/local/bin/route-to", "app"], timeout = "10s" }
failback_after = "2m"             # primary healthy this long => switch back

[[component.recovery]]
strategy = "escalate"
notify = ["ops"]                  # channels declared in healerd.toml
repeat_every = "1h"

[[checkpoint]]
name = "app-config"
paths = ["/etc/app/app.conf"]
every = "1h"                      # taken only while its component is healthy
keep = 10
"""


def test_issue_example_loads_exactly_as_written(cfg):
    cfg.write("healerd.toml", SETTINGS)
    cfg.write("policies.d/app.toml", ISSUE_EXAMPLE)
    cfg.write("policies.d/others.toml", DB_AND_STANDBY)
    loaded, problems = cfg.load()
    assert problems == []
    config = loaded.config
    app = config.components["app"]
    assert (app.description, app.weight, app.depends_on, app.pidfile) == ("orders API", 3.0, ["db"], "/run/app/app.pid")
    assert isinstance(app.check, HttpCheck)
    assert app.check.url == "http://127.0.0.1:8080/healthz"
    assert (app.check.every, app.check.timeout, app.check.degraded_over) == (
        timedelta(seconds=5),
        timedelta(seconds=2),
        timedelta(milliseconds=300),
    )
    assert app.check.expect_status == [200]
    b = app.breaker
    assert (b.consecutive_failures, b.failure_rate, b.window, b.min_checks, b.half_open_successes) == (
        3,
        0.5,
        20,
        10,
        2,
    )
    assert (b.open_for, b.max_open_for) == (timedelta(seconds=30), timedelta(minutes=10))
    retry, restore, fallback, escalate = app.recovery
    assert isinstance(retry, RetryStep) and retry.action.run == ["systemctl", "restart", "app.service"]
    assert (retry.action.timeout, retry.attempts, retry.within) == (timedelta(seconds=30), 3, timedelta(minutes=10))
    assert (retry.backoff.initial, retry.backoff.max, retry.backoff.multiplier, retry.backoff.jitter) == (
        timedelta(seconds=1),
        timedelta(seconds=30),
        2.0,
        "full",
    )
    assert isinstance(restore, RestoreStep) and restore.checkpoint == "app-config"
    assert restore.then.run == ["systemctl", "restart", "app.service"]
    assert isinstance(fallback, FallbackStep)
    assert (fallback.candidates, fallback.select, fallback.failback_after) == (
        ["app-standby"],
        "sequential",
        timedelta(minutes=2),
    )
    assert fallback.activate.run == ["/usr/local/bin/route-to", "{candidate}"]
    assert fallback.deactivate.run == ["/usr/local/bin/route-to", "app"]
    assert fallback.activate.timeout == timedelta(seconds=10)
    assert isinstance(escalate, EscalateStep)
    assert (escalate.notify, escalate.repeat_every) == (["ops"], timedelta(hours=1))
    cp = config.checkpoints["app-config"]
    assert (cp.paths, cp.every, cp.keep, cp.component) == (["/etc/app/app.conf"], timedelta(hours=1), 10, None)
    assert config.checkpoint_owner("app-config") == "app"
    assert config.sources["app"] == "policies.d/app.toml"
    assert config.sources["db"] == "policies.d/others.toml"
    assert loaded.summary() == "3 components, 1 checkpoint, 1 channel, 0 experiments"


def test_examples_directory_loads_with_no_problems():
    # A fresh clone is 0644/0755 under a 022 umask; the loader must accept it as it is.
    for path in [EXAMPLES, *EXAMPLES.rglob("*")]:
        assert not path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH), f"{path} is group/other-writable"
    loaded, problems = load_config(EXAMPLES)
    assert [str(p) for p in problems] == []
    config = loaded.config
    assert sorted(config.components) == ["app", "app-standby", "db"]
    assert sorted(config.settings.notify) == ["ops", "pager"]
    assert [f.name for f in config.settings.degradation.flag] == ["checkout", "recommendations"]
    assert isinstance(config.experiments["app-crash"].fault, KillFault)
    assert config.sources["db"] == "policies.d/backends.yaml"
    assert config.directory == str(EXAMPLES)
    # Relative paths resolve against the config directory, wherever the daemon was started from.
    assert config.components["app"].pidfile == str(EXAMPLES / "run" / "app.pid")
    assert config.checkpoints["app-config"].paths == [str(EXAMPLES / "services" / "app.conf")]
    assert os.path.isfile(config.checkpoints["app-config"].paths[0])


def test_examples_app_policy_keeps_the_issue_example_shape():
    """examples/policies.d/app.toml is the issue's example with only commands and paths adapted."""
    loaded, _ = load_config(EXAMPLES)
    app = loaded.config.components["app"]
    assert [type(s).__name__ for s in app.recovery] == ["RetryStep", "RestoreStep", "FallbackStep", "EscalateStep"]
    assert app.recovery[0].action.run[:3] == ["python3", "services/httpservice.py", "restart"]
    for argv in (app.recovery[0].action.run, app.recovery[2].activate.run):
        assert (EXAMPLES / argv[1]).is_file()  # the scripts exist relative to the config directory
