"""Properties of decide() + the ladder reducers over random ladders, clocks, outcomes and crashes.

Each run drives the simulator in healer_kit (which persists the state through JSON after every reducer,
finishes crashed steps as interrupted, and asserts every decision is reproducible from its inputs) and
then checks the promises over the whole history.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from healer_kit import (
    T0,
    Escalate,
    Failback,
    RunStep,
    World,
    call,
    checkpoint,
    comp,
    dep,
    escalate,
    fallback,
    is_action,
    restore,
    retry,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.config.models import EscalateStep
from daemon.engine.decide import decide
from daemon.engine.decision import BreakerView, DepView, GlobalBudget
from daemon.engine.ladder import (
    FAILBACK,
    LadderState,
    Outcome,
    observe_health,
    open_incident,
    record_finished,
    record_started,
)
from daemon.types import BreakerState, Status

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ERRORS = ["refused", "timeout", "not_running"]
CANDIDATES = ["s1", "s2", "s3"]

durations = st.sampled_from(["5s", "30s", "1m", "2m", "10m", "30m"])
whens = st.one_of(st.none(), st.lists(st.sampled_from(ERRORS), min_size=1, max_size=2, unique=True))
retries = st.builds(
    retry,
    attempts=st.integers(1, 4),
    within=durations,
    jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
    initial=st.sampled_from(["1s", "5s", "20s"]),
    max=st.sampled_from(["30s", "2m"]),
    when=whens,
)
restores = st.builds(restore, attempts=st.integers(1, 3), within=durations)
fallbacks = st.builds(
    lambda cands, select, attempts, within: fallback(*cands, select=select, attempts=attempts, within=within),
    st.lists(st.sampled_from(CANDIDATES), min_size=1, max_size=3, unique=True),
    st.sampled_from(["sequential", "random", "weighted", "fastest"]),
    st.integers(1, 3),
    durations,
)
escalates = st.builds(
    lambda rep, when: escalate("ops", repeat_every=rep, when=when), st.sampled_from([None, "1m", "10m", "1h"]), whens
)
ladders = st.lists(st.one_of(retries, restores, fallbacks, escalates), min_size=1, max_size=5)
outcomes = st.sampled_from([Outcome.FAILED] * 4 + [Outcome.SUCCEEDED, Outcome.INTERRUPTED])
moves = st.lists(
    st.tuples(outcomes, st.floats(0, 120), st.sampled_from([0.0, 0.5, 3.0, 40.0, 700.0])), min_size=1, max_size=60
)
long_moves = st.lists(
    st.tuples(outcomes, st.floats(0, 120), st.sampled_from([0.0, 3.0, 40.0, 700.0, 3000.0])), min_size=20, max_size=80
)
#: ladders that end in an escalate step with reminders, so escalations and reminders actually happen
escalating = st.builds(
    lambda steps, rep: [*steps, escalate("ops", repeat_every=rep)],
    st.lists(st.one_of(retries, restores, fallbacks), max_size=3),
    st.sampled_from(["1m", "10m", "1h"]),
)
# what the world looks like before each move: breaker, primary status, error class, candidate health, checkpoint
weathers = st.tuples(
    st.sampled_from([BreakerState.OPEN] * 6 + [BreakerState.HALF_OPEN, BreakerState.CLOSED, BreakerState.FORCED_OPEN]),
    st.sampled_from([Status.UNHEALTHY] * 4 + [Status.UNKNOWN, Status.HEALTHY, Status.DEGRADED]),
    st.sampled_from(ERRORS),
    st.lists(st.sampled_from([Status.HEALTHY, Status.UNHEALTHY]), min_size=3, max_size=3),
    st.booleans(),
)


def simulate(steps: list, script: list, weather: list, reset_after: float = 1e12) -> World:
    """Run the script; `world.resets` lists how many starts had happened at each budget reset."""
    world = World(comp(*steps))
    world.resets = []  # type: ignore[attr-defined]
    for i, (outcome, duration, idle) in enumerate(script):
        breaker, status, error, cand, has_cp = weather[i % len(weather)]
        world.breaker = breaker
        world.component = replace(
            world.component, status=status, error_class=None if status is Status.HEALTHY else error
        )
        world.health = dict(zip(CANDIDATES, cand))
        world.checkpoints = {"cp": checkpoint()} if has_cp else {}
        before = world.ladder
        world.ladder = observe_health(world.ladder, status, breaker, world.now, reset_after)
        if before.steps and not world.ladder.steps:
            world.resets.append(len(world.log.starts))  # type: ignore[attr-defined]
        _probe_invariants(world)
        world.step(outcome, duration, idle)
    return world


def _probe_invariants(world: World) -> None:
    """Whatever state the history reached: a healthy component and a dependent of a sick one get no action."""
    plain = replace(world.ladder, operator_requested_at=None)
    passing = replace(world.component, status=Status.HEALTHY, error_class=None)
    for breaker in BreakerState:
        d = call(passing, plain, breaker=breaker, health=world.health, checkpoints=world.checkpoints, now=world.now)
        assert not isinstance(d, RunStep), (breaker, d)
        if breaker is BreakerState.CLOSED:  # failback is the one action a healthy primary may get
            assert not (isinstance(d, Escalate) and d.kind != "resolved"), d
    dependent = replace(world.component, depends_on=("db",))
    for sick in (
        dep("db", Status.UNHEALTHY, BreakerState.OPEN),
        dep("db", Status.HEALTHY, BreakerState.HALF_OPEN),
        dep("db", Status.UNKNOWN, BreakerState.CLOSED),
    ):
        d = call(
            dependent,
            world.ladder,
            breaker=world.breaker,
            deps={"db": sick},
            health=world.health,
            checkpoints=world.checkpoints,
            now=world.now,
        )
        assert not is_action(d), d


def assert_budget_kept(steps: list, world: World) -> None:
    """Per step, no window (s - within, s] holds more than `attempts` starts since the last budget reset."""
    resets = [0, *world.resets]  # type: ignore[attr-defined]
    for i, (key, s) in enumerate(world.log.starts):
        since = max(r for r in resets if r <= i)
        step = steps[int(key.split(":")[0])]
        within = step.within.total_seconds()
        in_window = [t for k, t in world.log.starts[since : i + 1] if k == key and s - within < t <= s]
        assert len(in_window) <= step.attempts, (key, step.attempts, within, world.log.starts)


@SETTINGS
@given(st.one_of(ladders, escalating), st.one_of(moves, long_moves), st.lists(weathers, min_size=1, max_size=8))
def test_no_step_runs_more_than_its_attempts_in_any_window(steps: list, script: list, weather: list) -> None:
    world = simulate(steps, script, weather)
    assert world.resets == []  # type: ignore[attr-defined]
    assert_budget_kept(steps, world)


@SETTINGS
@given(st.one_of(ladders, escalating), st.one_of(moves, long_moves), st.lists(weathers, min_size=1, max_size=8))
def test_budgets_start_again_only_after_a_healthy_spell(steps: list, script: list, weather: list) -> None:
    world = simulate(steps, script, weather, reset_after=300.0)
    assert_budget_kept(steps, world)


@SETTINGS
@given(st.one_of(ladders, escalating), long_moves, st.lists(weathers, min_size=1, max_size=8))
def test_escalation_at_most_once_per_incident_and_reminders_spaced(steps: list, script: list, weather: list) -> None:
    world = simulate(steps, script, weather)
    initial: dict[object, int] = defaultdict(int)
    last: dict[object, float] = {}
    resolved: dict[object, int] = defaultdict(int)
    for now, d in world.log.decisions:
        if not isinstance(d, Escalate):
            continue
        if d.kind == "initial":
            initial[d.incident_id] += 1
            last[d.incident_id] = now
        elif d.kind == "reminder":
            assert d.incident_id in last, "a reminder before any initial message"
            step = steps[d.index]
            assert isinstance(step, EscalateStep) and step.repeat_every is not None
            assert now - last[d.incident_id] >= step.repeat_every.total_seconds()
            last[d.incident_id] = now
        else:
            assert initial[d.incident_id] == 1, "resolved only for an escalated incident"
            resolved[d.incident_id] += 1
    assert all(n == 1 for n in initial.values())
    assert all(n == 1 for n in resolved.values())


@SETTINGS
@given(st.one_of(ladders, escalating), st.one_of(moves, long_moves), st.lists(weathers, min_size=1, max_size=8))
def test_no_retry_before_its_persisted_backoff_even_across_restarts(steps: list, script: list, weather: list) -> None:
    world = simulate(steps, script, weather)
    assert world.log.retry_starts_before_next_at == []


# --- dependencies ----------------------------------------------------------------------------------------

graphs = st.dictionaries(
    st.sampled_from(["db", "api", "cache", "queue", "dns"]),
    st.tuples(
        st.sampled_from(list(Status)),
        st.sampled_from(list(BreakerState)),
        st.lists(st.sampled_from(["db", "api", "cache", "queue", "dns"]), max_size=2, unique=True),
    ),
    min_size=1,
)


@SETTINGS
@given(
    ladders,
    graphs,
    st.lists(st.sampled_from(["db", "api", "cache", "queue", "dns"]), min_size=1, max_size=3, unique=True),
    moves,
)
def test_dependents_never_act_while_a_dependency_is_sick(
    steps: list, graph: dict, depends_on: list, script: list
) -> None:
    deps = {n: DepView(n, s, b, tuple(d for d in ds if d != n)) for n, (s, b, ds) in graph.items()}
    world = simulate(
        steps,
        script[: len(script) // 2 + 1],
        [(BreakerState.OPEN, Status.UNHEALTHY, "refused", [Status.HEALTHY] * 3, True)],
    )
    component = replace(world.component, depends_on=tuple(depends_on))
    reach, stack = set(), list(depends_on)
    while stack:
        n = stack.pop()
        if n in deps and n not in reach:
            reach.add(n)
            stack.extend(deps[n].depends_on)
    any_sick = any(deps[n].sick for n in reach)
    for breaker in BreakerState:
        d = decide(
            component,
            BreakerView(breaker),
            world.ladder,
            deps,
            GlobalBudget(0, 4),
            world.health,
            world.checkpoints,
            world.now,
        )
        if any_sick:
            assert not is_action(d), d


# --- the global limit -------------------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(ladders, min_size=2, max_size=6),
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 5), outcomes, st.floats(1, 200), st.floats(0, 60)), min_size=1, max_size=80),
)
def test_concurrent_recoveries_never_exceed_the_global_limit(all_steps: list, limit: int, script: list) -> None:
    names = [f"c{i}" for i in range(len(all_steps))]
    comps = {n: comp(*s, name=n) for n, s in zip(names, all_steps)}
    ladders_ = {n: LadderState() for n in names}
    finishing: dict[str, tuple[float, Outcome]] = {}
    now, incidents, rng = T0, 0, random.Random(0)
    for pick, outcome, duration, idle in script:
        # finish whatever is due first, so running counts only actions still under way
        for n, (at, out) in sorted(finishing.items(), key=lambda kv: kv[1][0]):
            if at <= now:
                step = comps[n].recovery[ladders_[n].in_progress.index]
                ladders_[n] = record_finished(ladders_[n], step, out, at, rng)
                del finishing[n]
        name = names[pick % len(names)]
        running = sum(1 for lad in ladders_.values() if lad.in_progress is not None)
        assert running <= limit
        d = decide(
            comps[name],
            BreakerView(BreakerState.OPEN),
            ladders_[name],
            {},
            GlobalBudget(running, limit),
            dict.fromkeys(CANDIDATES, Status.HEALTHY),
            {"cp": checkpoint()},
            now,
        )
        if isinstance(d, (RunStep, Failback)):
            assert running < limit
            strategy = d.strategy if isinstance(d, RunStep) else FAILBACK
            ladders_[name] = record_started(ladders_[name], d.index, strategy, now, getattr(d, "candidate", None))
            finishing[name] = (now + duration, outcome)
        elif type(d).__name__ == "OpenIncident":
            incidents += 1
            ladders_[name] = open_incident(ladders_[name], incidents, d.trigger, now)
        now += idle
    assert sum(1 for lad in ladders_.values() if lad.in_progress is not None) <= limit
