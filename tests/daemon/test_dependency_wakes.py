"""A dependency's recovery wakes its dependents (issue 10, KEP-4603's "late recovery"): the dependent is
checked again at once — not at its next interval — and healed on that fresh result."""

from __future__ import annotations

import pytest
from helpers import wait_until
from test_healer_e2e import component, env, events, explain, http_check, incidents, retry  # noqa: F401

pytestmark = pytest.mark.slow


def test_when_the_dependency_closes_the_waiting_dependent_is_rechecked_at_once_and_healed(env):
    db, app = env.service("db"), env.service("app")
    db.start()
    app.start()
    gate = env.gate("db-start")
    # app's own check runs every 30 s; its death is seen at once through the pidfd, so only the wake-up
    # can bring its next check forward to right after db recovers
    app_check = 'kind = "process"\nevery = "30s"\ntimeout = "5s"'
    env.write(
        component("db", check=http_check(db), failures=1, steps=retry(gate.argv(db.argv("start"))))
        + component(
            "app",
            check=app_check,
            failures=1,
            steps=retry(app.argv("start")),
            extra=f'depends_on = ["db"]\npidfile = "{app.pidfile}"',
        ),
    )
    d = env.start()
    wait_until(
        lambda: d.query("SELECT count(DISTINCT component_id) FROM check_results WHERE status = 'healthy'")[0][0] == 2,
        timeout=40,
    )

    db.crash()
    wait_until(
        lambda: (
            d.query(
                "SELECT count(*) FROM breaker_transitions t JOIN components c ON c.id = t.component_id "
                "WHERE c.name = 'db' AND t.to_state = 'open'"
            )[0][0]
            >= 1
        ),
        timeout=30,
    )
    app.crash()  # after db is known down: app's incident waits on it
    wait_until(
        lambda: any(i["waiting_on"] == "db" for i in incidents(d, "app")), timeout=30, message=lambda: explain(d, "app")
    )

    gate.open()
    wait_until(
        lambda: (
            d.query(
                "SELECT count(*) FROM breaker_transitions t JOIN components c ON c.id = t.component_id "
                "WHERE c.name = 'db' AND t.to_state = 'closed'"
            )[0][0]
            >= 1
        ),
        timeout=30,
    )
    (closed_at,) = d.query(
        "SELECT max(t.ts) FROM breaker_transitions t JOIN components c ON c.id = t.component_id "
        "WHERE c.name = 'db' AND t.to_state = 'closed'"
    )[0]

    wait_until(
        lambda: [e for e in events(d, "app") if e["status"] == "succeeded"],
        timeout=25,
        message=lambda: explain(d, "app"),
    )
    (first_after,) = d.query(
        "SELECT min(r.ts) FROM check_results r JOIN components c ON c.id = r.component_id "
        "WHERE c.name = 'app' AND r.ts > ?",
        (closed_at,),
    )[0]
    # pulled forward: well before the 30 s interval would have run it
    assert first_after - closed_at < 10, first_after - closed_at
    # the restart was decided on that fresh result, never on the one taken while db was down
    (started,) = d.query(
        "SELECT min(e.started_at) FROM recovery_events e JOIN components c ON c.id = e.component_id "
        "WHERE c.name = 'app'"
    )[0]
    assert started >= first_after
