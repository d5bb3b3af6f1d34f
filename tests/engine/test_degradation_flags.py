"""Feature flags: off_at by level, depends_on chains, components that switch a flag off."""

from __future__ import annotations

import pytest

from daemon.config.models import Flag
from daemon.engine.flags import evaluate_flags
from daemon.engine.score import Condition
from daemon.types import Level


def flag(name, off_at="reduced", depends_on=(), components=()):
    return Flag(name=name, off_at=off_at, depends_on=list(depends_on), components=list(components))


@pytest.mark.parametrize(
    "level,enabled",
    [(Level.FULL, True), (Level.REDUCED, True), (Level.MINIMAL, False), (Level.EMERGENCY, False)],
)
def test_a_flag_turns_off_at_its_level_and_stays_off_at_every_worse_one(level, enabled):
    states = evaluate_flags([flag("search", off_at="minimal")], level, {})
    assert states["search"].enabled is enabled


def test_the_reason_names_the_level_and_the_off_at():
    states = evaluate_flags([flag("recs", off_at="reduced")], Level.MINIMAL, {})
    assert states["recs"] == (False, "level minimal ≥ off_at reduced")
    on = evaluate_flags([flag("recs", off_at="reduced")], Level.FULL, {})
    assert on["recs"] == (True, "level full < off_at reduced")


def test_a_flag_is_off_when_a_flag_it_depends_on_is_off_transitively():
    flags = [
        flag("payments", off_at="emergency"),
        flag("checkout", off_at="emergency", depends_on=["payments"]),
        flag("one_click", off_at="emergency", depends_on=["checkout"]),
        flag("upsell", off_at="emergency", depends_on=["one_click"]),
        flag("unrelated", off_at="emergency"),
    ]
    all_on = evaluate_flags(flags, Level.MINIMAL, {})
    assert all(state.enabled for state in all_on.values())

    states = evaluate_flags(flags, Level.MINIMAL, {"pay-api": Condition.UNHEALTHY})
    assert all(state.enabled for state in states.values())  # pay-api is not listed anywhere

    flags[0] = flag("payments", off_at="emergency", components=["pay-api"])
    states = evaluate_flags(flags, Level.MINIMAL, {"pay-api": Condition.UNHEALTHY})
    assert states["payments"] == (False, "component pay-api unhealthy")
    assert states["checkout"] == (False, "depends on payments (off)")
    assert states["one_click"] == (False, "depends on checkout (off)")
    assert states["upsell"] == (False, "depends on one_click (off)")
    assert states["unrelated"].enabled


def test_dependency_order_in_the_list_does_not_matter():
    flags = [flag("child", off_at="emergency", depends_on=["parent"]), flag("parent", off_at="reduced")]
    states = evaluate_flags(flags, Level.REDUCED, {})
    assert list(states) == ["child", "parent"]
    assert states["child"] == (False, "depends on parent (off)")


def test_a_flag_with_several_dependencies_is_off_when_any_is_off():
    flags = [
        flag("a", off_at="emergency"),
        flag("b", off_at="reduced"),
        flag("c", off_at="emergency", depends_on=["a", "b"]),
    ]
    assert evaluate_flags(flags, Level.FULL, {})["c"].enabled
    assert evaluate_flags(flags, Level.REDUCED, {})["c"] == (False, "depends on b (off)")


@pytest.mark.parametrize(
    "condition,words",
    [
        (Condition.UNHEALTHY, "unhealthy"),
        (Condition.OPEN, "breaker open"),
        (Condition.FORCED_OPEN, "breaker forced_open"),
        (Condition.HALF_OPEN, "breaker half_open"),
    ],
)
def test_a_listed_component_that_is_down_turns_the_flag_off_whatever_the_level(condition, words):
    states = evaluate_flags(
        [flag("reports", off_at="emergency", components=["db", "cache"])],
        Level.FULL,
        {"db": condition, "cache": Condition.HEALTHY},
    )
    assert states["reports"] == (False, f"component db {words}")


@pytest.mark.parametrize("condition", [Condition.HEALTHY, Condition.DEGRADED, Condition.STALE, Condition.UNKNOWN])
def test_a_listed_component_that_is_up_degraded_or_unknown_leaves_the_flag_on(condition):
    states = evaluate_flags([flag("reports", off_at="emergency", components=["db"])], Level.FULL, {"db": condition})
    assert states["reports"].enabled


def test_a_component_missing_from_the_input_counts_as_unknown():
    assert evaluate_flags([flag("x", off_at="minimal", components=["ghost"])], Level.FULL, {})["x"].enabled


def test_every_reason_that_applies_is_listed():
    flags = [flag("base", off_at="reduced"), flag("x", off_at="reduced", depends_on=["base"], components=["db", "mq"])]
    states = evaluate_flags(flags, Level.EMERGENCY, {"db": Condition.UNHEALTHY, "mq": Condition.OPEN})
    assert states["x"] == (
        False,
        "level emergency ≥ off_at reduced; component db unhealthy; component mq breaker open; depends on base (off)",
    )


def test_a_dependency_cycle_turns_its_flags_off_with_a_reason_instead_of_looping():
    flags = [
        flag("a", off_at="emergency", depends_on=["b"]),
        flag("b", off_at="emergency", depends_on=["a"]),
        flag("c", off_at="emergency", depends_on=["a"]),
        flag("d", off_at="emergency"),
    ]
    states = evaluate_flags(flags, Level.FULL, {})
    assert not states["a"].enabled and "dependency cycle: a → b → a" in states["a"].reason
    assert not states["b"].enabled and "dependency cycle" in states["b"].reason
    assert states["c"] == (False, "depends on a (off)")
    assert states["d"].enabled


def test_an_undefined_dependency_turns_the_flag_off_and_says_so():
    states = evaluate_flags([flag("a", off_at="emergency", depends_on=["nope"])], Level.FULL, {})
    assert states["a"] == (False, "depends on undefined flag nope")


def test_a_flag_defined_twice_is_refused():
    with pytest.raises(ValueError, match="defined twice"):
        evaluate_flags([flag("a"), flag("a")], Level.FULL, {})


def test_a_long_chain_is_evaluated_without_recursion_trouble():
    flags = [flag("f0", off_at="minimal")] + [
        flag(f"f{i}", off_at="emergency", depends_on=[f"f{i - 1}"]) for i in range(1, 5000)
    ]
    states = evaluate_flags(flags, Level.MINIMAL, {})
    assert states["f4999"] == (False, "depends on f4998 (off)")
    assert evaluate_flags(flags, Level.REDUCED, {})["f4999"].enabled
