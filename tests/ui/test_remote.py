"""Beyond loopback (issue 16): the app behind a TLS reverse proxy (``X-Forwarded-*`` from a trusted address) and
serving TLS itself (uvicorn's certificate options), on a real uvicorn server. The token and Host checks must hold
whatever the proxy says; a session cookie set over HTTPS is ``Secure``."""

from __future__ import annotations

import http.client
import ssl
import subprocess
from pathlib import Path

import pytest

from rlhf_robotics.ui import AppConfig, QueueConfig, serve_in_background

from .conftest import build_run

PUBLIC = "labels.example.org"


def request(port: int, path: str, headers: dict[str, str], tls: bool = False) -> http.client.HTTPResponse:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's self-signed certificate
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    root.mkdir()
    build_run(root, n_queries=2)
    return root


def proxied_server(run_dir: Path, forwarded_allow_ips: str):
    # As deployed behind Caddy/nginx on the same machine: uvicorn on loopback, tokens on, the public name trusted.
    config = AppConfig(require_token=True, trusted_hosts=(PUBLIC,), forwarded_allow_ips=forwarded_allow_ips,
                       queue=QueueConfig(gold_rate=0, repeat_rate=0))
    return serve_in_background(run_dir, "127.0.0.1", 0, config)


def test_token_and_host_checks_behind_a_tls_proxy(run_dir: Path) -> None:
    with proxied_server(run_dir, forwarded_allow_ips="127.0.0.1") as server:
        token = server.service.queue.add_annotator("ann")
        proxy = {"Host": PUBLIC, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        signed = request(server.port, f"/?token={token}", proxy)
        assert signed.status == 303 and signed.getheader("location") == "./"
        cookie = signed.getheader("set-cookie") or ""
        assert "rlhf_label_session=" in cookie and "secure" in cookie.lower() and "httponly" in cookie.lower()
        assert request(server.port, "/", proxy).status == 401, "no token, no page, even through the proxy"
        assert request(server.port, "/?token=wrong", proxy).status == 401
        assert request(server.port, "/api/next", proxy).status == 401
        bearer = request(server.port, "/api/next", {**proxy, "Authorization": f"Bearer {token}"})
        assert bearer.status == 200
        assert request(server.port, f"/?token={token}", {**proxy, "Host": "evil.example"}).status == 400, \
            "a Host the study did not name is refused (DNS rebinding), proxy or not"


def test_forwarded_headers_from_an_untrusted_address_are_ignored(run_dir: Path) -> None:
    with proxied_server(run_dir, forwarded_allow_ips="10.255.255.1") as server:  # the proxy is elsewhere
        token = server.service.queue.add_annotator("ann")
        signed = request(server.port, f"/?token={token}", {"Host": PUBLIC, "X-Forwarded-Proto": "https"})
        assert signed.status == 303
        assert "secure" not in (signed.getheader("set-cookie") or "").lower(), "a client cannot claim HTTPS itself"


def test_uvicorn_serves_tls_itself_with_a_certificate(run_dir: Path, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "1", "-subj", f"/CN={PUBLIC}"], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {made.stderr[-200:]}")
    config = AppConfig(require_token=True, trusted_hosts=(PUBLIC,), ssl_keyfile=str(key), ssl_certfile=str(cert),
                       queue=QueueConfig(gold_rate=0, repeat_rate=0))
    with serve_in_background(run_dir, "127.0.0.1", 0, config) as server:
        assert server.url.startswith("https://")
        token = server.service.queue.add_annotator("ann")
        signed = request(server.port, f"/?token={token}", {"Host": PUBLIC}, tls=True)
        assert signed.status == 303 and "secure" in (signed.getheader("set-cookie") or "").lower()
        status = request(server.port, "/api/status", {"Host": PUBLIC, "Authorization": f"Bearer {token}"}, tls=True)
        assert status.status == 200
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            request(server.port, "/api/status", {"Host": PUBLIC})  # plain HTTP to a TLS port gets no answer


def test_half_a_tls_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="ssl_keyfile and ssl_certfile go together"):
        AppConfig(ssl_keyfile="key.pem")

