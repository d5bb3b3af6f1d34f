"""Which files are read, and which are refused because they could make healerd run someone's commands."""

from __future__ import annotations

import os

import pytest
from config_helpers import component

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@pytest.mark.parametrize("mode, who", [(0o664, "group"), (0o646, "others"), (0o666, "group")])
def test_file_writable_by_group_or_others_is_refused(cfg, mode, who):
    cfg.write("policies.d/a.toml", component("a"), mode=mode)
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml: group or others can write this file")
    assert f"mode {mode:04o}" in problem


def test_refused_file_is_not_loaded_even_on_reload(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.toml", component("b"), mode=0o664)
    loaded, problems = cfg.load(previous=None)
    assert loaded is None and len(problems) == 1
    os.chmod(cfg.root / "policies.d/b.toml", 0o644)
    good, problems = cfg.load()
    assert problems == []
    os.chmod(cfg.root / "policies.d/b.toml", 0o664)
    (cfg.root / "policies.d/b.toml").write_text(component("b") + component("c"))
    reloaded, problems = cfg.load(previous=good)
    assert sorted(reloaded.config.components) == ["a", "b"]  # c came from the untrusted version
    assert [p.path for p in problems] == ["policies.d/b.toml"]


@pytest.mark.parametrize("subdir", ["", "policies.d", "experiments.d"])
def test_group_writable_directory_is_refused_and_nothing_is_loaded(cfg, subdir):
    cfg.write("policies.d/a.toml", component("a"))
    (cfg.root / "experiments.d").mkdir(mode=0o755)
    os.chmod(cfg.root / subdir, 0o775)
    loaded, problems = cfg.load()
    assert loaded is None
    (problem,) = problems
    assert "group or others can write this directory (mode 0775)" in str(problem)


@needs_root
def test_file_owned_by_another_non_root_user_is_refused(cfg):
    path = cfg.write("policies.d/a.toml", component("a"))
    os.chown(path, 65534, 65534)
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/a.toml: this file is owned by uid 65534")
    assert "neither root nor the user running healerd" in problem


@needs_root
def test_directory_owned_by_another_non_root_user_is_refused(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    os.chown(cfg.root / "policies.d", 65534, 65534)
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d: this directory is owned by uid 65534")


def test_symlink_is_followed_and_its_target_checked(cfg, tmp_path):
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir(mode=0o755)
    os.chmod(elsewhere, 0o755)
    target = elsewhere / "app.toml"
    target.write_text(component("a"))
    os.chmod(target, 0o644)
    (cfg.root / "policies.d").mkdir()
    os.chmod(cfg.root / "policies.d", 0o755)
    (cfg.root / "policies.d/app.toml").symlink_to(target)
    loaded, problems = cfg.load()
    assert problems == [] and list(loaded.config.components) == ["a"]

    os.chmod(target, 0o664)
    (problem,) = cfg.problems()
    assert "group or others can write the symlink's target " + str(target) in problem

    os.chmod(target, 0o644)
    os.chmod(elsewhere, 0o777)  # whoever can write the target's directory can swap the target
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/app.toml: group or others can write the directory of the symlink's target")


def test_broken_symlink_is_a_problem(cfg):
    (cfg.root / "policies.d").mkdir()
    os.chmod(cfg.root / "policies.d", 0o755)
    (cfg.root / "policies.d/gone.toml").symlink_to(cfg.root / "nowhere.toml")
    (problem,) = cfg.problems()
    assert problem.startswith("policies.d/gone.toml: broken symlink")


def test_fifo_is_refused_without_blocking(cfg):
    (cfg.root / "policies.d").mkdir()
    os.chmod(cfg.root / "policies.d", 0o755)
    os.mkfifo(cfg.root / "policies.d/pipe.toml", 0o644)
    assert cfg.problems() == ["policies.d/pipe.toml: not a regular file"]


def test_editor_and_package_leftovers_are_ignored(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    for name in (
        ".a.toml.swp",
        "a.toml~",
        "#a.toml#",
        "a.toml.bak",
        "a.toml.dpkg-old",
        "a.toml.dpkg-dist",
        "a.toml.rpmnew",
        "a.toml.rpmsave",
        "a.toml.orig",
        "a.toml.disabled",
        "a.toml.example",
        ".hidden.toml",
    ):
        cfg.write(f"policies.d/{name}", "this is not valid toml [[[")
    loaded, problems = cfg.load()
    assert problems == [] and list(loaded.config.components) == ["a"]


def test_unexpected_file_or_directory_in_policies_d_is_a_problem(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("policies.d/b.tml", component("b"))
    (cfg.root / "policies.d/old").mkdir()
    assert cfg.problems() == [
        "policies.d/b.tml: not a .toml, .yaml or .yml file, so it would not be loaded: rename it or move it out of "
        "policies.d/ (editor and package backups like *~, *.bak, *.dpkg-old are ignored)",
        "policies.d/old: a directory inside policies.d/ is not read: move it out",
    ]


def test_other_files_at_the_top_of_the_directory_are_left_alone_except_yaml_settings(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    cfg.write("README", "notes")
    cfg.write("healerd.yaml", "daemon: {}\n")
    assert cfg.problems() == ["healerd.yaml: settings are read from healerd.toml only; this file is not loaded"]


def test_files_load_in_name_order_so_the_first_definition_is_well_defined(cfg):
    cfg.write("policies.d/20-b.toml", component("b"))
    cfg.write("policies.d/10-a.yaml", "component:\n  - name: a\n    check: {kind: tcp, port: 1}\n")
    loaded, _problems = cfg.load()
    assert list(loaded.files) == ["policies.d/10-a.yaml", "policies.d/20-b.toml"]
    assert list(loaded.config.components) == ["a", "b"]


def test_missing_or_foreign_directory_is_a_problem(cfg, tmp_path):
    from daemon.config.loader import load_config

    loaded, (problem,) = load_config(tmp_path / "absent")
    assert loaded is None and "cannot read the directory: No such file or directory" in str(problem)
    empty = tmp_path / "empty"
    empty.mkdir()
    os.chmod(empty, 0o755)
    loaded, (problem,) = load_config(empty)
    assert loaded is None and "not a healerd config directory" in str(problem)


def test_directory_with_only_settings_is_valid(cfg):
    cfg.write("healerd.toml", '[notify.ops]\nkind = "log"\n')
    loaded, problems = cfg.load()
    assert problems == [] and loaded.summary() == "0 components, 0 checkpoints, 1 channel, 0 experiments"


def test_oversized_file_is_refused(cfg):
    path = cfg.write("policies.d/a.toml", "# a log dropped in the wrong place\n")
    os.truncate(path, 17 << 20)  # sparse: the size is refused before anything is read
    (problem,) = cfg.problems()
    assert "too big for a config file" in problem


def test_relative_paths_resolve_against_the_config_directory(cfg):
    cfg.write("healerd.toml", '[degradation]\nstate_file = "run/level.json"\n')
    cfg.write(
        "policies.d/a.toml",
        component("a", 'pidfile = "run/a.pid"', 'kind = "file"\npath = "data/heartbeat"')
        + component("b", "", 'kind = "disk"\npath = "/var"')
        + '[[checkpoint]]\nname = "cp"\ncomponent = "a"\npaths = ["conf/a.conf", "/etc/abs.conf"]\n',
    )
    loaded, problems = cfg.load()
    assert problems == []
    c = loaded.config
    root = str(cfg.root)
    assert c.components["a"].pidfile == f"{root}/run/a.pid"
    assert c.components["a"].check.path == f"{root}/data/heartbeat"
    assert c.components["b"].check.path == "/var"
    assert c.checkpoints["cp"].paths == [f"{root}/conf/a.conf", "/etc/abs.conf"]
    assert c.settings.degradation.state_file == f"{root}/run/level.json"


def test_only_changes_to_files_the_loader_reads_count_for_the_watcher(tmp_path):
    from daemon.config.files import is_config_path

    d = tmp_path / "cfg"
    assert is_config_path(d, d / "healerd.toml")
    assert is_config_path(d, d / "policies.d")
    assert is_config_path(d, d / "policies.d" / "app.toml")
    assert is_config_path(d, d / "experiments.d" / "x.yaml")
    assert is_config_path(d, d / "policies.d" / "notes.txt")  # reported as a problem, so it counts
    assert not is_config_path(d, d / "policies.d" / ".app.toml.swp")
    assert not is_config_path(d, d / "policies.d" / "app.toml~")
    assert not is_config_path(d, d / "run" / "app.pid")
    assert not is_config_path(d, d / "services" / "app.conf")
    assert not is_config_path(d, tmp_path / "elsewhere.toml")
