"""Running the labelling app: in the foreground (``rlhf-robotics label``) or in a background thread of a
training run (:func:`serve_in_background`), always on a real uvicorn server.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from rlhf_robotics.ui.app import AppConfig, LabelService, create_app


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.0/8``, ``::1`` or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def effective_config(host: str, config: AppConfig | None) -> AppConfig:
    """``config`` with tokens switched on when ``host`` is reachable from other machines."""
    config = config or AppConfig()
    if not is_loopback(host) and not config.require_token:
        config = replace(config, require_token=True)
    return config


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 = a free one).

    Raises:
        ValueError: the port is out of range, or the address cannot be bound (busy, unknown host); the message
            names the address and the fix.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port={port!r}: expected a TCP port from 1 to 65535, or 0 for a free one")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (with proto 0 it does not, and
    # Nagle + delayed ACK add 40 ms to every response sent as headers then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except (OSError, OverflowError) as err:
        sock.close()
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ValueError(
            f"cannot listen on {host}:{port} ({reason}); pick another port (port=0 for a free one) or host"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class LabelServer:
    """A running app: ``url`` to open, ``service`` for its store and queue, ``stop()`` to end it."""

    url: str
    host: str
    port: int
    app: Starlette
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def service(self) -> LabelService:
        return self.app.state.service  # type: ignore[no-any-return]

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish open requests and exit; waits up to ``timeout`` seconds."""
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> LabelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _url(host: str, port: int, tls: bool = False) -> str:
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


def uvicorn_config(app: Starlette, config: AppConfig, log_level: str, access_log: bool = True) -> uvicorn.Config:
    """uvicorn's settings for ``app``: TLS from ``config.ssl_*``, and the ``X-Forwarded-*`` headers of the proxies
    in ``config.forwarded_allow_ips`` honoured (so a request that reached a TLS proxy has scheme ``https``)."""
    extra: dict[str, object] = {}
    if config.forwarded_allow_ips is not None:
        extra["forwarded_allow_ips"] = config.forwarded_allow_ips
    return uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on", proxy_headers=True,
                          ssl_keyfile=config.ssl_keyfile, ssl_certfile=config.ssl_certfile, **extra)  # type: ignore[arg-type]


def serve_in_background(
    run_dir: str | Path, host: str = "127.0.0.1", port: int = 0, config: AppConfig | None = None
) -> LabelServer:
    """Start the app for ``run_dir`` in a daemon thread and return once it accepts connections.

    The loop keeps writing queries to ``preferences.sqlite``, clips to ``clips/`` (+ ``clips/index.jsonl``) and
    ``status.json``, and reads judgments by cursor; the app picks up new queries and clips on every request.

    Args:
        run_dir: the run directory (see :mod:`rlhf_robotics.preference.rundir`).
        host: address to bind; anything but loopback turns annotator tokens on.
        port: TCP port, 0 for a free one (read it back from ``.port`` / ``.url``).
        config: app settings.
    """
    config = effective_config(host, config)
    sock = bind(host, port)  # first: a busy port must leave the run directory as it was
    try:
        app = create_app(run_dir, config)
    except BaseException:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, config, "warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="label-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the labelling server for {run_dir} did not start on {host}:{bound_port}")
        time.sleep(0.01)
    return LabelServer(_url(host, bound_port, config.ssl_keyfile is not None), host, bound_port, app, server, thread)


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: AppConfig | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C).

    The port is bound before anything is written to ``run_dir``, so a busy port leaves it as it was.
    ``on_ready`` is called with the URL actually bound (``port=0`` picks a free port) before serving.
    """
    config = effective_config(host, config)
    sock = bind(host, port)
    try:
        app = create_app(run_dir, config)
    except BaseException:
        sock.close()
        raise
    if on_ready is not None:
        on_ready(_url(host, sock.getsockname()[1], config.ssl_keyfile is not None))
    uvicorn.Server(uvicorn_config(app, config, "info")).run(sockets=[sock])
