"""Cross-file rules: names unique across the directory, references resolve, no dependency cycles."""

from __future__ import annotations

from config_helpers import component

RESTORE = '[[component.recovery]]\nstrategy = "restore"\ncheckpoint = "{cp}"\n'


def test_duplicate_component_across_files_names_both_places(cfg):
    cfg.write("policies.d/a.toml", component("web"))
    cfg.write("policies.d/b.yaml", "component:\n  - name: web\n    check: {kind: tcp, port: 2}\n")
    assert cfg.problems() == [
        "policies.d/b.yaml: component[0].name (line 2): "
        "name 'web' is already used by the component in policies.d/a.toml (line 2)"
    ]


def test_components_checkpoints_and_experiments_share_one_namespace(cfg):
    cfg.write(
        "policies.d/a.toml", component("web") + '[[checkpoint]]\nname = "web"\ncomponent = "web"\npaths = ["/x"]\n'
    )
    cfg.write(
        "experiments.d/web.toml",
        '[experiment]\nname = "web"\ntarget = "web"\nduration = "1m"\nfault = { kind = "unavailable" }\n',
    )
    problems = cfg.problems()
    assert problems == [
        "experiments.d/web.toml: experiment.name (line 2): name 'web' is already used by the component in policies.d/a.toml (line 2)",
        "policies.d/a.toml: checkpoint[0].name (line 8): name 'web' is already used by the component in policies.d/a.toml (line 2)",
    ]


def test_channels_and_flags_have_their_own_namespaces(cfg):
    cfg.write(
        "healerd.toml",
        '[notify.web]\nkind = "log"\n[[degradation.flag]]\nname = "web"\noff_at = "reduced"\ncomponents = ["web"]\n',
    )
    cfg.write(
        "policies.d/a.toml",
        component("web", "", 'kind = "tcp"\nport = 1')
        + '[[component.recovery]]\nstrategy = "escalate"\nnotify = ["web"]\n',
    )
    loaded, problems = cfg.load()
    assert problems == []
    assert loaded.config.sources == {"notify.web": "healerd.toml", "web": "policies.d/a.toml"}


def test_duplicate_flag_names_are_refused(cfg):
    cfg.write(
        "healerd.toml",
        '[[degradation.flag]]\nname = "f"\noff_at = "reduced"\n[[degradation.flag]]\nname = "f"\noff_at = "minimal"\n',
    )
    assert cfg.problems() == [
        "healerd.toml: degradation.flag[1].name (line 5): name 'f' is already used by the flag in healerd.toml (line 2)"
    ]


def test_every_kind_of_dangling_reference_is_reported_at_its_key(cfg):
    cfg.write(
        "healerd.toml",
        """
        [[degradation.flag]]
        name = "f"
        off_at = "reduced"
        depends_on = ["nope-flag"]
        components = ["nope-comp"]
        """,
    )
    cfg.write(
        "policies.d/a.toml",
        """
        [[component]]
        name = "a"
        depends_on = ["ghost"]
        [component.check]
        kind = "tcp"
        port = 1
        [[component.recovery]]
        strategy = "restore"
        checkpoint = "no-cp"
        [[component.recovery]]
        strategy = "fallback"
        candidates = ["a", "nobody"]
        activate = { run = ["true"] }
        [[component.recovery]]
        strategy = "escalate"
        notify = ["pager"]

        [[checkpoint]]
        name = "cp"
        component = "missing"
        paths = ["/etc/x"]
        """,
    )
    cfg.write(
        "experiments.d/e.toml",
        '[experiment]\nname = "e"\ntarget = "absent"\nduration = "1m"\nfault = { kind = "unavailable" }\n',
    )
    assert cfg.problems() == [
        "experiments.d/e.toml: experiment.target (line 3): no component named 'absent' in this config directory",
        "healerd.toml: degradation.flag[0].depends_on[0] (line 4): no flag named 'nope-flag' in this config directory",
        "healerd.toml: degradation.flag[0].components[0] (line 5): no component named 'nope-comp' in this config directory",
        "policies.d/a.toml: component[0].depends_on[0] (line 3): no component named 'ghost' in this config directory",
        "policies.d/a.toml: component[0].recovery[0].checkpoint (line 9): no checkpoint named 'no-cp' in this config directory",
        "policies.d/a.toml: component[0].recovery[1].candidates[0] (line 12): a component cannot be its own fallback",
        "policies.d/a.toml: component[0].recovery[1].candidates[1] (line 12): no component named 'nobody' in this config directory",
        "policies.d/a.toml: component[0].recovery[2].notify[0] (line 16): no notify channel 'pager': declare [notify.pager] in healerd.toml",
        "policies.d/a.toml: checkpoint[0].component (line 20): no component named 'missing' in this config directory",
    ]


def test_reference_to_a_name_of_the_wrong_kind_says_what_it_is(cfg):
    cfg.write(
        "policies.d/a.toml",
        component("a", 'depends_on = ["cp"]')
        + RESTORE.format(cp="cp")
        + '[[checkpoint]]\nname = "cp"\npaths = ["/x"]\n',
    )
    (problem,) = cfg.problems()
    assert (
        problem
        == "policies.d/a.toml: component[0].depends_on[0] (line 3): 'cp' is a checkpoint (policies.d/a.toml (line 11)), not a component"
    )


def test_depends_on_cycle_is_reported_once_with_its_path(cfg):
    cfg.write("policies.d/a.toml", component("a", 'depends_on = ["b"]'))
    cfg.write("policies.d/b.toml", component("b", 'depends_on = ["c"]') + component("c", 'depends_on = ["a"]'))
    cfg.write("policies.d/d.toml", component("d", 'depends_on = ["a"]'))  # leads into the cycle, not part of it
    # once per file it runs through (issue 16 item 7: both files are rolled back, so both are named)
    assert cfg.problems() == [
        "policies.d/a.toml: component[0].depends_on[0] (line 3): dependency cycle: a → b → c → a",
        "policies.d/b.toml: component[0].depends_on[0] (line 3): dependency cycle: a → b → c → a",
    ]


def test_flag_cycle_and_self_dependency_are_reported(cfg):
    cfg.write(
        "healerd.toml",
        """
        [[degradation.flag]]
        name = "x"
        off_at = "reduced"
        depends_on = ["y"]
        [[degradation.flag]]
        name = "y"
        off_at = "reduced"
        depends_on = ["x"]
        [[degradation.flag]]
        name = "z"
        off_at = "reduced"
        depends_on = ["z"]
        """,
    )
    assert cfg.problems() == [
        "healerd.toml: degradation.flag[0].depends_on[0] (line 4): dependency cycle: x → y → x",
        "healerd.toml: degradation.flag[2].depends_on[0] (line 12): dependency cycle: z → z",
    ]


def test_checkpoint_without_an_owner_is_a_problem(cfg):
    cfg.write("policies.d/a.toml", component("a") + '[[checkpoint]]\nname = "orphan"\npaths = ["/x"]\n')
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml: checkpoint[0] (line 7): no component owns this checkpoint")


def test_checkpoint_restored_by_two_components_needs_an_explicit_owner(cfg):
    cfg.write(
        "policies.d/a.toml",
        component("a")
        + RESTORE.format(cp="cp")
        + component("b")
        + RESTORE.format(cp="cp")
        + '[[checkpoint]]\nname = "cp"\npaths = ["/x"]\n',
    )
    (problem,) = cfg.problems()
    assert "restored by several components (a, b)" in problem
    cfg.write(
        "policies.d/a.toml",
        component("a")
        + RESTORE.format(cp="cp")
        + component("b")
        + RESTORE.format(cp="cp")
        + '[[checkpoint]]\nname = "cp"\ncomponent = "a"\npaths = ["/x"]\n',
    )
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.checkpoint_owner("cp") == "a"


def test_signal_action_needs_a_way_to_find_the_process(cfg):
    step = '[[component.recovery]]\nstrategy = "retry"\naction = { signal = "HUP" }\n'
    cfg.write("policies.d/a.toml", component("a") + step + component("b", 'pidfile = "/run/b.pid"') + step)
    (problem,) = cfg.problems()
    assert problem.startswith(
        "policies.d/a.toml: component[0].recovery[0].action.signal (line 9): a signal action needs"
    )


def test_kill_fault_needs_the_targets_process(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write(
        "experiments.d/k.toml", '[experiment]\nname = "k"\ntarget = "a"\nduration = "1m"\nfault = { kind = "kill" }\n'
    )
    (problem,) = cfg.problems()
    assert problem.startswith(
        "experiments.d/k.toml: experiment.fault (line 5): a kill fault needs the target's process"
    )


def test_long_dependency_chain_loads_and_its_cycle_is_reported_shortened(cfg):
    n = 3000  # deeper than Python's recursion limit: the cycle search must not recurse
    chain = "".join(component(f"c{i:04}", f'depends_on = ["c{i + 1:04}"]' if i + 1 < n else "") for i in range(n))
    cfg.write("policies.d/chain.toml", chain)
    loaded, problems = cfg.load()
    assert problems == [] and len(loaded.config.components) == n
    cfg.write(
        "policies.d/chain.toml",
        chain.replace(f'name = "c{n - 1:04}"\n', f'name = "c{n - 1:04}"\ndepends_on = ["c0000"]\n'),
    )
    (problem,) = cfg.problems()
    assert problem.endswith(
        f"dependency cycle: c0000 → c0001 → c0002 → c0003 → c0004 → c0005 → c0006 → c0007 → c0008 → c0009 → … → c2999 → c0000 ({n} components)"
    )
