"""[http] with basic_auth and TLS on a running daemon: 401 without the password, 200 with it, over HTTPS."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess

import httpx
import pytest
from http_kit import http_url, policies


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_basic_auth_and_tls_guard_every_endpoint_but_healthz(config_dir, start_daemon, listener, free_port, tmp_path):
    cert, key = config_dir.root / "cert.pem", config_dir.root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    password = config_dir.root / "http.password"
    password.write_text("correct horse\n")
    for path in (cert, key, password):
        os.chmod(path, 0o600)
    web = listener()
    config_dir.policy("a.toml", policies(web.port, free_port()))
    config_dir.settings("""
        [http]
        enabled = true
        port = 0
        tls_cert = "cert.pem"
        tls_key = "key.pem"
        basic_auth = { username = "ops", password_file = "http.password" }
    """)
    d = start_daemon(config_dir)
    url = http_url(d)
    assert url.startswith("https://127.0.0.1:")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=20, trust_env=False) as client:
        for path in ("/", "/metrics", "/api/v1/status"):
            denied = client.get(url + path)
            assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic")
            assert client.get(url + path, auth=("ops", "wrong")).status_code == 401
            assert client.get(url + path, auth=("ops", "correct horse")).status_code == 200
        assert client.get(url + "/healthz").status_code == 200  # liveness probes carry no password
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https", "http") + "/healthz", timeout=5, trust_env=False)  # no plain HTTP
    assert d.stop() == 0
