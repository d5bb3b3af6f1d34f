"""[http] is off by default and loopback-only; `healerd check` refuses a remote bind without auth or TLS."""

from __future__ import annotations

from click.testing import CliRunner
from config_helpers import component

from daemon.cli.main import cli


def _check(cfg, http: str):
    cfg.write("healerd.toml", "[http]\n" + http)
    cfg.write("policies.d/a.toml", component("a"))
    result = CliRunner().invoke(cli, ["check", "--config", str(cfg.root)])
    return result.exit_code, result.output


def test_http_is_off_by_default_and_would_listen_on_loopback_9797(cfg):
    cfg.write("policies.d/a.toml", component("a"))
    loaded, problems = cfg.load()
    assert not problems
    http = loaded.config.settings.http
    assert (http.enabled, http.address, http.port, http.allow_remote) == (False, "127.0.0.1", 9797, False)


def test_check_refuses_a_remote_address_without_allow_remote(cfg):
    code, out = _check(cfg, 'enabled = true\naddress = "0.0.0.0"\n')
    assert code == 1
    assert "healerd.toml" in out and "http" in out and "allow_remote" in out


def test_check_refuses_allow_remote_without_basic_auth_or_tls(cfg):
    code, out = _check(cfg, 'enabled = true\naddress = "0.0.0.0"\nallow_remote = true\n')
    assert code == 1
    assert "needs basic_auth or tls_cert" in out


def test_check_accepts_a_remote_address_with_basic_auth_from_a_trusted_file(cfg):
    cfg.write("http.password", "s3cret\n", mode=0o600)
    code, out = _check(
        cfg,
        'enabled = true\naddress = "0.0.0.0"\nallow_remote = true\n'
        'basic_auth = { username = "ops", password_file = "http.password" }\n',
    )
    assert code == 0, out


def test_check_refuses_a_password_file_others_can_write(cfg):
    cfg.write("http.password", "s3cret\n", mode=0o666)
    code, out = _check(
        cfg,
        'enabled = true\naddress = "0.0.0.0"\nallow_remote = true\n'
        'basic_auth = { username = "ops", password_file = "http.password" }\n',
    )
    assert code == 1
    assert "http.basic_auth.password_file" in out and "others can write" in out


def test_check_accepts_loopback_without_auth_and_refuses_half_a_tls_pair(cfg):
    assert _check(cfg, 'enabled = true\naddress = "::1"\n')[0] == 0
    code, out = _check(cfg, 'enabled = true\ntls_cert = "cert.pem"\n')
    assert code == 1 and "tls_cert and tls_key go together" in out
