"""The intent journal (issue 16 item 9): fsync'd lines, done marks, torn lines, idempotent replay."""

from __future__ import annotations

import sqlite3

from daemon.store.intent_journal import IdAllocator, IntentJournal, apply_entry, entry, journal_path


def _component(conn) -> int:
    conn.execute(
        "INSERT INTO components (name, check_kind, weight, every_s, depends_on, spec, loaded_at) "
        "VALUES ('app', 'tcp', 1.0, 1.0, '[]', '{}', 0)"
    )
    return conn.execute("SELECT id FROM components WHERE name = 'app'").fetchone()[0]


def _intent(cid: int, ids: IdAllocator, at: float):
    incident, event, decision = ids.take("incidents"), ids.take("recovery_events"), ids.take("decisions")
    return (
        incident,
        event,
        entry(
            ["absent", "decisions", decision],
            [
                {"op": "incident", "id": incident, "component_id": cid, "opened_at": at, "trigger": "breaker_open"},
                {
                    "op": "event",
                    "id": event,
                    "incident_id": incident,
                    "component_id": cid,
                    "strategy": "retry",
                    "step": 0,
                    "attempt": 1,
                    "reason": "test",
                    "started_at": at,
                    "action": "run",
                    "dry_run": 0,
                },
                {
                    "op": "decision",
                    "id": decision,
                    "component_id": cid,
                    "incident_id": incident,
                    "ts": at,
                    "kind": "run_step",
                    "step": 0,
                    "strategy": "retry",
                    "reason": "test",
                    "until": None,
                },
            ],
        ),
    )


def test_entries_not_marked_done_are_loaded_in_order_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "x.db.intents"
    j = IntentJournal(path)
    a, b, c = (j.record(entry(None, [{"op": "waiting_on", "id": n, "name": "db"}])) for n in (1, 2, 3))
    j.done(b)
    j.close()
    with open(path, "ab") as f:
        f.write(b'{"seq": 4, "entr')  # a crash in the middle of a write
    loaded = IntentJournal(path).load()
    assert [e["ops"][0]["id"] for e in loaded] == [1, 3]
    assert a == 1 and c == 3


def test_the_file_is_emptied_once_nothing_is_pending(tmp_path):
    j = IntentJournal(tmp_path / "x.intents")
    seqs = [j.record(entry(None, [])) for _ in range(3)]
    for seq in seqs:
        j.done(seq)
    assert (tmp_path / "x.intents").stat().st_size == 0 and j.load() == []


def test_replay_applies_an_intent_once_even_if_its_done_mark_was_lost(db_path):
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    cid = _component(conn)
    ids = IdAllocator(IdAllocator.read_maxima(conn))
    incident, event, e = _intent(cid, ids, 1000.0)
    for _ in range(3):  # live commit, then two replays of a line whose done mark never reached the disk
        conn.execute("BEGIN IMMEDIATE")
        apply_entry(conn, e)
        conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
    assert conn.execute("SELECT id, status, started_at FROM recovery_events").fetchall() == [(event, "started", 1000.0)]
    assert conn.execute("SELECT id FROM incidents").fetchall() == [(incident,)]

    finish = entry(["started", event], [{"op": "finish", "id": event, "status": "succeeded", "finished_at": 1001.0}])
    assert apply_entry(conn, finish) is True
    assert apply_entry(conn, finish) is False  # final already: a replay changes nothing
    assert IdAllocator(IdAllocator.read_maxima(conn)).take("recovery_events") == event + 1


def test_the_journal_lives_beside_the_database(tmp_path):
    assert journal_path(tmp_path / "healerd.db") == tmp_path / "healerd.db.intents"
