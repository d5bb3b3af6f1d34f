"""The folding replay gives what feeding every result gives (engine/replay_fold.py).

Randomised histories (several components, a dependency, outages, flapping, slow and maintenance stretches,
healthy results carrying an error class, equal timestamps, acks) are written to a real migrated SQLite
file and replayed twice — every result fed (`Replay.run` over `stream_results`) and quiet stretches
folded (`run_folded` over `FoldSource`) — under randomised breakers, ladders and outcome rules; the
replays must agree on every decision, incident, transition and count, and on each component's final
breaker, ladder and last check.
"""

from __future__ import annotations

import random
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.clock import FakeClock
from daemon.config.models import Breaker, HealerdConfig
from daemon.engine.breaker import CircuitBreaker
from daemon.engine.replay import Replay
from daemon.engine.replay_fold import run_folded
from daemon.engine.replay_outcomes import Outcomes
from daemon.store import migrate, replay_sql
from daemon.types import Status

T0 = 1_800_000_000.0
STATUSES = [Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY, Status.UNKNOWN]


@st.composite
def breaker_specs(draw) -> Breaker:
    window = draw(st.integers(1, 8))
    return Breaker(
        consecutive_failures=draw(st.integers(1, 4)),
        window=window,
        min_checks=draw(st.integers(1, window)),
        failure_rate=draw(st.sampled_from([1e-12, 0.2, 0.5, 1.0])),
        half_open_successes=draw(st.integers(1, 3)),
    )


@given(
    spec=breaker_specs(),
    before=st.lists(st.tuples(st.sampled_from(STATUSES), st.sampled_from([None, "refused"])), max_size=12),
    status=st.sampled_from(STATUSES),
    error_class=st.sampled_from([None, "refused"]),
    count=st.integers(0, 30),
)
def test_feeding_many_alike_results_at_once_leaves_the_breaker_as_feeding_them_one_by_one(
    spec, before, status, error_class, count
):
    one, many = CircuitBreaker(spec, FakeClock()), CircuitBreaker(spec, FakeClock())
    for s, e in before:
        assert one.feed(s, e) == many.feed(s, e)
    singly = [t for _ in range(count) for t in one.feed(status, error_class)]
    assert many.feed_many(status, error_class, count) == singly
    assert many.snapshot() == one.snapshot()
    assert many._window_failures == one._window_failures


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("fold") / "history.db"
    migrate.upgrade(path)
    return path


def write_history(path, names: list[str], rows: list[tuple]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("DELETE FROM check_results")
        conn.execute("DELETE FROM components")
        conn.executemany(
            "INSERT INTO components (id, name, check_kind, every_s, loaded_at) VALUES (?, ?, 'tcp', 10, 0)",
            [(i + 1, n) for i, n in enumerate(names)],
        )
        ids = {n: i + 1 for i, n in enumerate(names)}
        conn.executemany(
            "INSERT INTO check_results (component_id, ts, status, error_class, maintenance) VALUES (?, ?, ?, ?, ?)",
            [(ids[n], ts, s, e, m) for n, ts, s, e, m in rows],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def random_history(rng: random.Random, names: list[str], steps: int) -> list[tuple]:
    """Mostly plain healthy, with stretches of each other kind; results sometimes share an instant."""
    kinds = [("healthy", None, 0)] * 6 + [
        ("unhealthy", "refused", 0),
        ("unknown", "timeout", 0),
        ("degraded", None, 0),
        ("healthy", None, 1),
        ("healthy", "slow_tls", 0),
        ("unhealthy", "bad_status", 1),
    ]
    current = dict.fromkeys(names, kinds[0])
    rows, t = [], T0
    for _ in range(steps):
        for n in names:
            if rng.random() < 0.08:
                current[n] = rng.choice(kinds)
            flap = rng.random() < 0.03
            kind = rng.choice(kinds[6:]) if flap else current[n]
            rows.append((n, t, *kind))
            if rng.random() < 0.1:
                t += rng.choice([0.0, 0.5, 3.0])
        t += 10.0
    return rows


def make_config(rng: random.Random, names: list[str]) -> HealerdConfig:
    components = {}
    for i, name in enumerate(names):
        window = rng.randint(1, 8)
        components[name] = {
            "name": name,
            "check": {"kind": "tcp", "port": 9, "every": "10s"},
            "depends_on": [names[0]] if i and rng.random() < 0.5 else [],
            "breaker": {
                "consecutive_failures": rng.randint(1, 4),
                "window": window,
                "min_checks": rng.randint(1, window),
                "failure_rate": rng.choice([0.3, 0.5, 1.0]),
                "half_open_successes": rng.randint(1, 3),
                "open_for": rng.choice(["5s", "20s", "1m"]),
                "max_open_for": "2m",
            },
            "recovery": [
                {
                    "strategy": "retry",
                    "attempts": rng.randint(1, 3),
                    "within": "10m",
                    "verify_within": rng.choice(["5s", "20s"]),
                    "action": {"run": ["true"]},
                    "backoff": {"initial": "10s", "max": "30s", "jitter": "none"},
                },
                {"strategy": "escalate", "notify": ["ops"], "repeat_every": rng.choice(["2m", "1h"])},
            ],
        }
    return HealerdConfig.model_validate(
        {
            "settings": {
                "notify": {"ops": {"kind": "log"}},
                "daemon": {
                    "budget_reset_after": rng.choice(["1m", "5m"]),
                    "restart_backoff_reset": "2m",
                    "max_concurrent_recoveries": rng.randint(1, 3),
                    "fast_every": "1s",
                },
            },
            "components": components,
        }
    )


def replays(config, path, rows, seed: int, assume, threaded: bool = False):
    rng = random.Random(seed)
    acks = {n: sorted(rng.uniform(T0, rows[-1][1]) for _ in range(rng.randint(0, 3))) for n in config.components}
    start, end = T0, rows[-1][1] + 1e-3
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = []
        for folded in (False, True):
            replay = Replay(
                config,
                Outcomes([], assume=assume, fast_every=1.0),
                acks={n: list(v) for n, v in acks.items()},
                seed=seed,
            )
            if folded:
                with replay_sql.FoldSource(conn, start, end, list(config.components), reader_thread=threaded) as source:
                    result = run_folded(replay, source, until=end)
            else:
                result = replay.run(replay_sql.stream_results(conn, start, end), until=end)
            final = {
                n: (
                    c.breaker.snapshot(),
                    c.ladder,
                    c.checked_at,
                    c.status,
                    c.error_class,
                    c.maintenance,
                    c.last_key,
                    c.healed,
                )
                for n, c in replay.comps.items()
            }
            out.append((result, final, replay._running, replay._next_incident))
        return out
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
    steps=st.integers(1, 300),
    assume=st.sampled_from([None, "healed", "failed"]),
    threaded=st.booleans(),
)
def test_a_folded_replay_of_a_random_history_equals_the_replay_that_feeds_every_result(
    db, seed, n, steps, assume, threaded
):
    rng = random.Random(seed)
    names = [f"c{i}" for i in range(n)]
    rows = random_history(rng, names, steps)
    write_history(db, names, rows)
    (unfolded, final_u, running_u, inc_u), (folded, final_f, running_f, inc_f) = replays(
        make_config(rng, names), db, rows, seed, assume, threaded
    )
    assert folded.results == unfolded.results == len(rows)
    assert (folded.start, folded.end) == (unfolded.start, unfolded.end)
    assert folded.decisions == unfolded.decisions
    assert folded.transitions == unfolded.transitions
    assert folded.incidents == unfolded.incidents
    assert folded.synthetic == unfolded.synthetic
    assert final_f == final_u
    assert (running_f, inc_f) == (running_u, inc_u)


def test_a_long_quiet_stretch_is_folded_not_fed(db, monkeypatch):
    """The fast path is taken: a week-like healthy stretch reaches the engine as a handful of results."""
    names = ["c0", "c1"]
    rows = [(n, T0 + k * 10.0 + i, "healthy", None, 0) for k in range(2000) for i, n in enumerate(names)]
    rows[1500 * 2] = ("c0", rows[1500 * 2][1], "unhealthy", "refused", 0)
    write_history(db, names, rows)
    fed = []
    original = Replay._result
    monkeypatch.setattr(Replay, "_result", lambda self, comp, ts, *a: (fed.append(ts), original(self, comp, ts, *a)))
    config = make_config(random.Random(1), names)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        with replay_sql.FoldSource(conn, T0, rows[-1][1] + 1, names) as source:
            result = run_folded(Replay(config, Outcomes([])), source)
    finally:
        conn.close()
    assert result.results == len(rows)
    assert len(fed) < 60


def test_the_scan_runs_in_its_own_thread_and_alone_when_the_two_connections_see_different_histories(db):
    names = ["c0"]
    rows = [
        ("c0", T0 + k * 10.0, "unhealthy" if k % 7 == 0 else "healthy", "refused" if k % 7 == 0 else None, 0)
        for k in range(100)
    ]
    write_history(db, names, rows)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        with replay_sql.FoldSource(conn, T0, T0 + 1000, names) as source:
            threaded = list(source.changes())
            assert source._worker is not None
        with replay_sql.FoldSource(conn, T0, T0 + 1000, names) as source:
            source._threaded = lambda path, here: type(source)._threaded(source, path, (here[0], here[1] + 1))
            alone = list(source.changes())
            assert source._worker is None
        with replay_sql.FoldSource(conn, T0, T0 + 1000, names, reader_thread=False) as source:
            assert list(source.changes()) == threaded == alone
    finally:
        conn.close()
    assert [r[1] for r in threaded] == [r[1] for r in rows if r[2] == "unhealthy"]
