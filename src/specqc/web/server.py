"""Starting the dashboard: where it may listen, and uvicorn on a socket bound here
(so a port in use is a one-line error, not a server log)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from ..errors import ConfigError, InputError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may reach beyond this machine


def check_exposure(host: str, accounts_exist: bool, tls: bool, behind_tls_proxy: bool) -> None:
    """Anything beyond loopback needs accounts (logins) and TLS, here or in a proxy in front."""
    if is_loopback(host):
        return
    if not accounts_exist:
        raise ConfigError(
            f"refusing to listen on {host} without authentication: the store has no accounts "
            "(add one with `specqc users add NAME --role reviewer`) or listen on 127.0.0.1"
        )
    if not tls and not behind_tls_proxy:
        raise ConfigError(
            f"refusing to listen on {host} without TLS: passwords would cross the network in clear "
            "(give --tls-cert and --tls-key, or --behind-tls-proxy when a TLS proxy is in front)"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def serve(
    store_path: str | Path | None,
    host: str,
    port: int,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    behind_tls_proxy: bool = False,
    on_ready=None,
) -> None:
    """Open the store, check the exposure, bind and serve until interrupted."""
    import uvicorn

    from ..records.reviews import authentication_configured
    from ..records.store import Store, default_store_path
    from .app import create_app

    from ..records.engines import parse_location

    location = parse_location(store_path if store_path is not None else default_store_path())
    if location.engine == "sqlite" and not location.file.exists():  # serving never creates a store
        raise InputError("results store does not exist", location.file)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not Path(path).is_file():
            raise InputError("TLS file does not exist", path)
    store = Store(store_path if store_path is not None else location.path)
    try:
        check_exposure(host, authentication_configured(store), tls_cert is not None, behind_tls_proxy)
        sock = bind(host, port)
        app = create_app(store, secure_cookies=tls_cert is not None or behind_tls_proxy)
        config = uvicorn.Config(
            app,
            log_level="info",
            server_header=False,
            proxy_headers=behind_tls_proxy,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
        )
        server = uvicorn.Server(config)
        if on_ready is not None:
            on_ready(f"{'https' if tls_cert else 'http'}://{host}:{sock.getsockname()[1]}/")
        server.run(sockets=[sock])
    finally:
        store.close()
