"""A recorded run exported as a Chaos Toolkit–style journal (engine/chaos_journal.py, `healerd chaos journal`)."""

from __future__ import annotations

import json

from chaos_kit import T0, experiment
from click.testing import CliRunner
from helpers import open_db

from daemon.cli.main import cli
from daemon.engine.chaos_journal import build_journal
from daemon.store import chaos_sql

SPEC = experiment(rollback={"run": ["python3", "start.py"]}).model_dump(mode="json")


def activity(name, start, end, output, kind="action"):
    return {"activity": {"type": kind, "name": name}, "start": start, "end": end, "output": output}


def passed_events():
    return [
        {"ts": T0, "step": "start", "status": "info", "message": "manual run", "data": {"experiment": SPEC}},
        {
            "ts": T0 + 0.5,
            "step": "steady_state_before",
            "status": "met",
            "message": "ok",
            "data": {"score": 100.0, "min_score": 90.0, "level": "full", "start": T0, "end": T0 + 0.5},
        },
        {"ts": T0 + 1, "step": "inject", "status": "started", "message": "injecting", "data": {}},
        {
            "ts": T0 + 1.01,
            "step": "inject",
            "status": "succeeded",
            "message": "SIGKILL delivered to pid 7",
            "data": activity("inject kill into app", T0 + 1, T0 + 1.01, "SIGKILL delivered to pid 7"),
        },
        {
            "ts": T0 + 2,
            "step": "detected",
            "status": "info",
            "message": "breaker opened",
            "data": {"steady_state_met": False},
        },
        {"ts": T0 + 8, "step": "recovered", "status": "info", "message": "breaker closed", "data": {}},
        {
            "ts": T0 + 8.1,
            "step": "observe",
            "status": "succeeded",
            "message": "observed",
            "data": activity("observe app", T0 + 1, T0 + 8.1, {"min_score": 0.0}, kind="probe"),
        },
        {
            "ts": T0 + 8.2,
            "step": "steady_state_after",
            "status": "met",
            "message": "ok",
            "data": {"score": 100.0, "min_score": 90.0, "start": T0 + 8.1, "end": T0 + 8.2},
        },
        {"ts": T0 + 8.3, "step": "verdict", "status": "passed", "message": "detected in 1 s", "data": {}},
    ]


RUN = {
    "id": 3,
    "started_at": T0,
    "finished_at": T0 + 8.3,
    "verdict": "passed",
    "reason": "detected in 1 s",
    "trigger": "manual",
    "dry_run": 0,
    "injected_at": T0 + 1,
    "detected_at": T0 + 2,
    "recovered_at": T0 + 8,
    "reverted_at": None,
    "min_score": 0.0,
    "max_level": "emergency",
    "recommendations": [],
}


def test_a_passed_run_is_a_completed_journal_with_its_steady_states_and_activities():
    j = build_journal(RUN, "app-crash", passed_events(), "0.1.0")
    assert j["status"] == "completed" and j["deviated"] is False
    assert j["experiment"]["title"] == "app-crash" and j["experiment"]["fault"] == {"kind": "kill", "signal": "KILL"}
    assert j["start"] == "2023-11-14T22:13:20.000000Z" and j["duration"] == 8.3
    assert j["steady_states"]["before"]["steady_state_met"] is True
    assert j["steady_states"]["before"]["probes"][0]["output"]["score"] == 100.0
    assert j["steady_states"]["after"]["steady_state_met"] is True
    assert [d["probes"][0]["activity"]["name"] for d in j["steady_states"]["during"]] == ["detected", "recovered"]
    assert [(a["activity"]["name"], a["status"]) for a in j["run"]] == [
        ("inject kill into app", "succeeded"),
        ("observe app", "succeeded"),
    ]
    assert j["run"][0]["duration"] == 0.01 and j["run"][1]["activity"]["type"] == "probe"
    assert j["rollbacks"] == []
    assert j["healerd"]["detected_at"].startswith("2023-11-14T22:13:22")


def test_an_activity_whose_end_was_never_recorded_is_failed_and_interrupted():
    events = passed_events()[:3] + [
        {"ts": T0 + 9, "step": "rollback", "status": "started", "message": "running the rollback", "data": {}}
    ]
    j = build_journal({**RUN, "verdict": "interrupted", "finished_at": None}, "app-crash", events)
    assert j["status"] == "interrupted" and j["end"] is None and j["duration"] is None
    ran = [(a["activity"]["name"], a["status"], a["output"]) for a in j["run"]]
    assert ran == [("inject", "failed", "interrupted")]
    assert j["rollbacks"][0]["status"] == "failed" and j["steady_states"]["after"] is None


def test_refused_maps_to_failed_without_deviation_and_abort_deviates():
    refused = build_journal({**RUN, "verdict": "refused"}, "app-crash", passed_events()[:2])
    assert (refused["status"], refused["deviated"]) == ("failed", False)
    aborted_events = passed_events()[:4] + [
        {"ts": T0 + 2, "step": "abort", "status": "failed", "message": "score 0 fell below", "data": {}}
    ]
    aborted = build_journal({**RUN, "verdict": "aborted"}, "app-crash", aborted_events)
    assert (aborted["status"], aborted["deviated"]) == ("aborted", True)


def test_steady_state_not_met_after_the_method_deviates():
    events = passed_events()
    events[7] = {**events[7], "status": "not_met"}
    j = build_journal({**RUN, "verdict": "failed"}, "app-crash", events)
    assert (j["status"], j["deviated"], j["steady_states"]["after"]["steady_state_met"]) == ("failed", True, False)


def test_healerd_chaos_journal_exports_a_stored_run(db_path):
    with open_db(db_path) as conn:
        ids = chaos_sql.sync_experiments(
            conn,
            [{"name": "app-crash", "description": "", "target": "app", "spec": json.dumps(SPEC), "source_file": None}],
            T0,
        )
        run_id = chaos_sql.insert_run(conn, ids["app-crash"], started_at=T0, trigger="manual", dry_run=False)
        for e in passed_events():
            chaos_sql.add_event(
                conn, run_id, ts=e["ts"], step=e["step"], status=e["status"], message=e["message"], data=e["data"]
            )
        chaos_sql.update_run(
            conn,
            run_id,
            finished_at=T0 + 8.3,
            verdict="passed",
            reason="detected in 1 s",
            injected_at=T0 + 1,
            detected_at=T0 + 2,
            recovered_at=T0 + 8,
            recommendations=["lower `every`"],
        )

    result = CliRunner().invoke(cli, ["chaos", "journal", str(run_id), "--db", str(db_path)])

    assert result.exit_code == 0, result.output
    j = json.loads(result.output)
    assert j == build_journal(chaos_sql_run(db_path, run_id), "app-crash", chaos_sql_events(db_path, run_id), "0.1.0")
    assert j["status"] == "completed" and j["healerd"]["recommendations"] == ["lower `every`"]
    assert j["duration"] == 8.3 and len(j["run"]) == 2


def test_healerd_chaos_journal_of_an_unknown_run_is_a_clear_error(db_path):
    result = CliRunner().invoke(cli, ["chaos", "journal", "99", "--db", str(db_path)])
    assert result.exit_code == 1 and "no chaos run 99" in result.output


def chaos_sql_run(db_path, run_id):
    with open_db(db_path) as conn:
        return chaos_sql.run_row(conn, run_id)


def chaos_sql_events(db_path, run_id):
    with open_db(db_path) as conn:
        return chaos_sql.run_events(conn, run_id)
