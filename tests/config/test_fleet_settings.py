"""`[fleet]` in healerd.toml: defaults, the password file resolved against the config dir, bad keys refused."""

from __future__ import annotations

from datetime import timedelta


def test_fleet_is_off_without_a_section_and_defaults_are_documented_ones(cfg):
    cfg.write("healerd.toml", "[daemon]\n")
    loaded, problems = cfg.load()
    assert problems == [] and loaded.config.settings.fleet is None
    cfg.write(
        "healerd.toml", '[fleet]\nurl = "postgresql+psycopg://healerd@db:5432/fleet"\npassword_file = "fleet.pw"\n'
    )
    loaded, problems = cfg.load()
    assert problems == []
    fleet = loaded.config.settings.fleet
    assert (fleet.every, fleet.batch, fleet.max_share, fleet.min_hosts, fleet.hold_for) == (
        timedelta(seconds=5),
        2000,
        0.5,
        3,
        timedelta(minutes=10),
    )
    assert fleet.host is None  # the machine's host name at run time
    assert fleet.password_file == str(cfg.root / "fleet.pw")


def test_a_non_postgresql_url_and_unknown_keys_are_refused_with_their_key(cfg):
    cfg.write("healerd.toml", '[fleet]\nurl = "mysql://x/y"\nmax_shre = 0.3\n')
    loaded, problems = cfg.load()
    assert loaded is None or loaded.config.settings.fleet is None
    keys = {p.key for p in problems}
    assert {"fleet.url", "fleet.max_shre"} <= keys, problems
