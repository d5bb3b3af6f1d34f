"""Reload: a file that fails keeps its last good version in force; everything else applies."""

from __future__ import annotations

from config_helpers import component


def test_broken_file_keeps_its_last_good_version_while_other_changes_apply(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", component("b"))
    first, problems = cfg.load()
    assert problems == []

    cfg.write(
        "policies.d/a.toml",
        component("a", "weight = 2.0") + '[[component]]\nname = "a2"\n[component.check]\nkind = "tcp"\nport = "x"\n',
    )
    cfg.write("policies.d/b.toml", component("b", "weight = 5.0"))
    second, problems = cfg.load(previous=first)
    assert second is not None
    assert [str(p) for p in problems] == [
        "policies.d/a.toml: component[1].check.port (line 11): Input should be a valid integer, unable to parse string as an integer"
    ]
    assert sorted(second.config.components) == ["a", "b"]
    assert second.config.components["a"].weight == 1.0  # the last good a.toml
    assert second.config.components["b"].weight == 5.0  # b.toml's change applied
    assert second.held == frozenset({"policies.d/a.toml"})
    assert second.files["policies.d/a.toml"] is first.files["policies.d/a.toml"]

    # Still broken on the next reload: the good version stays, the problem is reported again.
    third, problems = cfg.load(previous=second)
    assert third.config.components["a"].weight == 1.0 and len(problems) == 1

    cfg.write("policies.d/a.toml", component("a", "weight = 2.0"))
    fixed, problems = cfg.load(previous=third)
    assert problems == [] and fixed.held == frozenset()
    assert fixed.config.components["a"].weight == 2.0


def test_without_previous_any_problem_means_no_config(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", "[[component]]\nname = 1\n")
    loaded, problems = cfg.load()
    assert loaded is None and len(problems) >= 1


def test_deleted_file_is_removed_on_reload(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    path = cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    path.unlink()
    second, problems = cfg.load(previous=first)
    assert problems == []
    assert list(second.config.components) == ["a"]
    assert "policies.d/b.toml" not in second.files and "b" not in second.config.sources


def test_new_broken_file_is_not_loaded_and_the_rest_applies(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    first, _ = cfg.load()
    cfg.write("policies.d/a.toml", component("a", "weight = 4.0"))
    cfg.write("policies.d/new.toml", "[[component]\n")
    second, problems = cfg.load(previous=first)
    assert [p.path for p in problems] == ["policies.d/new.toml"]
    assert second.config.components["a"].weight == 4.0
    assert "policies.d/new.toml" not in second.files


def test_changed_file_with_a_dangling_reference_is_rolled_back_alone(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    cfg.write("policies.d/a.toml", component("a", 'depends_on = ["ghost"]'))
    cfg.write("policies.d/b.toml", component("b", "weight = 3.0"))
    cfg.write("policies.d/c.toml", component("c", 'depends_on = ["b"]'))
    second, problems = cfg.load(previous=first)
    assert [str(p) for p in problems] == [
        "policies.d/a.toml: component[0].depends_on[0] (line 3): no component named 'ghost' in this config directory"
    ]
    assert second.config.components["a"].depends_on == []
    assert second.config.components["b"].weight == 3.0
    assert second.config.components["c"].depends_on == ["b"]
    assert second.held == frozenset({"policies.d/a.toml"})


def test_new_file_with_a_duplicate_name_is_left_out(cfg):
    cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    cfg.write("policies.d/a.toml", component("b", "weight = 9.0"))  # sorts first, yet it is the newcomer
    second, problems = cfg.load(previous=first)
    assert [str(p) for p in problems] == [  # reported at the newcomer, not at the definition in force
        "policies.d/a.toml: component[0].name (line 2): name 'b' is already used by the component in policies.d/b.toml (line 2)"
    ]
    assert second.config.components["b"].weight == 1.0
    assert second.config.sources["b"] == "policies.d/b.toml"


def test_reload_rejected_whole_when_no_changed_file_can_be_blamed(cfg):
    cfg.write("policies.d/a.toml", component("a", 'depends_on = ["b"]'))
    b = cfg.write("policies.d/b.toml", component("b"))
    first, _ = cfg.load()
    b.unlink()  # a.toml is unchanged, but now references nothing
    second, problems = cfg.load(previous=first)
    assert second is None
    assert [str(p) for p in problems] == [
        "policies.d/a.toml: component[0].depends_on[0] (line 3): no component named 'b' in this config directory"
    ]


def test_untrusted_directory_on_reload_keeps_everything(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    first, _ = cfg.load()
    (cfg.root / "policies.d").chmod(0o777)
    second, problems = cfg.load(previous=first)
    assert second is None and len(problems) == 1


def test_unchanged_file_reuses_its_parse(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    first, _ = cfg.load()
    second, _ = cfg.load(previous=first)
    assert second.files["policies.d/a.toml"] is first.files["policies.d/a.toml"]
    assert second.files["policies.d/a.toml"].sha256 == first.files["policies.d/a.toml"].sha256
    assert second.config == first.config
