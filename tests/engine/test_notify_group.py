"""Grouping of escalations per channel (issue 10): one message names every component, loses no fact."""

from __future__ import annotations

import pytest

from daemon.engine.notification import Notification
from daemon.engine.notify_group import combine, waiting_note


def msg(component: str, kind: str = "initial", ts: float = 100.0, **kw) -> Notification:
    base = {
        "component": component,
        "incident": kw.pop("incident", 1),
        "kind": kind,
        "status": "unhealthy, breaker open",
        "reason": f"{component} spent",
        "error": "refused: connection refused",
        "ts": ts,
    }
    return Notification(**{**base, **kw})


def test_one_message_is_sent_exactly_as_it_was() -> None:
    m = msg("db")
    assert combine([m]) is m


def test_five_escalations_become_one_message_naming_all_five_in_order() -> None:
    messages = [msg(n, ts=100 + i * 0.1, incident=i + 1) for i, n in enumerate(["e", "d", "c", "b", "a"])]
    out = combine(messages)
    assert out.component == "e, d, c, b, a" and out.kind == "initial"
    assert out.status == "5 escalations for 5 component(s)"
    for i, n in enumerate(["e", "d", "c", "b", "a"]):
        assert f"{n} (incident {i + 1}) initial: unhealthy, breaker open — {n} spent; last error: refused" in out.reason
    assert f"healerd@{out.host}: e, d, c, b, a needs attention" in out.text()


@pytest.mark.parametrize(
    "kinds, expected",
    [
        (["resolved", "resolved"], "resolved"),
        (["reminder", "reminder"], "reminder"),
        (["reminder", "initial"], "initial"),
    ],
)
def test_the_group_kind_is_the_most_urgent_of_its_members(kinds, expected) -> None:
    assert combine([msg(f"c{i}", k) for i, k in enumerate(kinds)]).kind == expected


def test_resolved_members_keep_no_stale_error_and_nothing_is_dropped() -> None:
    out = combine([msg("a", "resolved"), msg("b", "resolved")])
    assert "last error" not in out.reason and out.reason.count("resolved:") == 2


def test_a_root_cause_names_the_dependents_waiting_on_it() -> None:
    assert waiting_note(["web", "app"]) == "waiting on it: app, web"
    assert waiting_note([]) == ""


def test_nothing_to_combine_is_an_error() -> None:
    with pytest.raises(ValueError):
        combine([])


def test_messages_of_one_incident_keep_its_id_status_error_and_link() -> None:
    out = combine(
        [
            msg("app", "initial", ts=1, link="http://x/1"),
            msg("app", "reminder", ts=2, status="unknown", link="http://x/1"),
        ]
    )
    assert (out.component, out.incident, out.kind, out.status, out.link) == (
        "app",
        1,
        "initial",
        "unknown",
        "http://x/1",
    )
    assert out.error == "refused: connection refused" and out.reason.count("app (incident 1)") == 2
