"""One log pipeline: JSON off a terminal, console on one, library loggers through the same processors."""

from __future__ import annotations

import io
import json
import logging

import structlog

from daemon.logs import configure_logging


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def test_off_a_terminal_every_line_is_json_with_bound_context():
    out = io.StringIO()
    configure_logging("info", stream=out)
    with structlog.contextvars.bound_contextvars(component="app", incident=7):
        structlog.get_logger("daemon.test").info("breaker transition", to_state="open")
    record = json.loads(lines(out)[-1])
    assert record["event"] == "breaker transition" and record["to_state"] == "open"
    assert record["component"] == "app" and record["incident"] == 7
    assert record["level"] == "info" and record["logger"] == "daemon.test" and record["timestamp"].endswith("Z")


def test_library_loggers_go_through_the_same_json_pipeline():
    out = io.StringIO()
    configure_logging("info", stream=out)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade %s -> %s", "0001", "0002")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    first, second = (json.loads(line) for line in lines(out)[-2:])
    assert first["event"] == "Running upgrade 0001 -> 0002" and first["logger"] == "alembic.runtime.migration"
    assert second["level"] == "warning" and second["logger"] == "apscheduler.scheduler"


def test_apscheduler_info_is_held_back_because_it_logs_every_run():
    out = io.StringIO()
    configure_logging("info", stream=out)
    logging.getLogger("apscheduler.executors.default").info('Job "check:app" executed successfully')
    assert lines(out) == []


def test_on_a_terminal_lines_are_for_people_not_json():
    out = FakeTTY()
    configure_logging("info", stream=out)
    structlog.get_logger("daemon.test").warning("config problem", problem="x.toml: bad")
    line = lines(out)[-1]
    assert "config problem" in line and "problem" in line
    try:
        json.loads(line)
    except ValueError:
        pass
    else:
        raise AssertionError("console output should not be JSON")


def test_reconfiguring_replaces_the_handler_instead_of_doubling_lines():
    out = io.StringIO()
    configure_logging("info", stream=out)
    configure_logging("info", stream=out)
    structlog.get_logger("daemon.test").info("once")
    assert sum('"once"' in line for line in lines(out)) == 1
