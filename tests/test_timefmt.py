"""One spelling of moments and lengths of time: the reasons decide() records, `explain`, the pages, the
notifications and the CLI all print through daemon/timefmt.py."""

from __future__ import annotations

import pytest

from daemon import timefmt
from daemon.cli import explain
from daemon.engine import decide, decide_between
from daemon.service import incident_timeline

TS = 1_700_000_000.123456  # 2023-11-14T22:13:20.123456Z


def test_a_moment_is_utc_iso_with_the_digits_asked_for_truncated():
    assert timefmt.iso(TS) == "2023-11-14T22:13:20Z"
    assert timefmt.iso(TS, digits=3) == "2023-11-14T22:13:20.123Z"
    assert timefmt.iso(TS, digits=6) == "2023-11-14T22:13:20.123456Z"
    assert timefmt.iso(TS, sep=" ") == "2023-11-14 22:13:20Z"
    assert timefmt.iso(1_700_000_000.9999) == "2023-11-14T22:13:20Z"  # never rounded into the next second
    assert timefmt.iso_or(None, "never") == "never" and timefmt.clock_time(TS) == "22:13:20.123"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "0.0s"),
        (0, "0.0s"),
        (2.44, "2.4s"),
        (9.94, "9.9s"),
        (42, "42s"),
        (59.4, "59s"),
        (420, "7m"),
        (3599, "60m"),
        (5400, "1.5h"),
        (86400, "24.0h"),
    ],
)
def test_a_length_of_time_reads_the_same_everywhere(seconds, text):
    assert timefmt.span(seconds) == text


def test_explain_and_the_reasons_use_the_same_span():
    assert explain._span is timefmt.span and decide_between.span is timefmt.span and decide._span is timefmt.span
    assert incident_timeline.at_time(TS, date=True) == "2023-11-14T22:13:20.123Z"
    assert incident_timeline.at_time(TS) == "22:13:20.123" and incident_timeline.at_time(None) == "-"
