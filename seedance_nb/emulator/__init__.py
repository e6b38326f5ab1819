"""A fal-compatible emulator: fal's queue protocol on loopback, rendering real MP4s.

It is the embedded default whenever no ``FAL_KEY`` is set, and what the tests,
notebooks, demo and benchmarks run on::

    from seedance_nb.emulator import serve
    with serve(slots=4, speed=0.01) as emu:
        print(emu.queue_url, emu.stats()["completed"])

One port carries fal's hosts as path prefixes: ``/queue`` (queue.fal.run),
``/run`` (fal.run, the sync route), ``/rest`` (rest.fal.ai), ``/cdn``
(v3.fal.media) and ``/api`` (api.fal.ai: the request history,
``/api/v1/models/requests/by-endpoint``); fal's server-proxy route
``/api/fal/proxy``; the webhook JWKS (``jwks_url``); the endpoint's OpenAPI
document (``openapi_url``); plus ``/_emulator/stats`` and ``/_emulator/config``.
Pointing fal's own clients at it is described in docs/fal-fidelity.md.
Behaviour (slots, latency, faults) is set by
:class:`EmulatorConfig` fields, at start or later through :meth:`Emulator.configure`.
Injected connection drops only hit idempotent GETs (status, stream, result,
files): a dropped submit would leave the caller unable to know whether it was
accepted, which fal's gateway does not do either for a request it refused.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .engine import EmulatorConfig, Engine
from .options import build_parser, usage_lines
from .urls import EmulatorUrls

__all__ = ["Emulator", "EmulatorConfig", "create_app", "main", "run", "serve", "start"]

logger = logging.getLogger("seedance_nb.emulator")


class Emulator:
    """A running emulator (uvicorn in a background thread on a loopback port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        storage: str | Path | None = None,
        replay: str | Path | None = None,
        **config: Any,
    ):
        self.config = EmulatorConfig()
        self.config.update(**config)
        self._own_storage = storage is None
        self.storage = Path(storage) if storage else Path(tempfile.mkdtemp(prefix="seedance-emulator-"))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except OSError:  # a busy port: leave no socket open and no storage folder behind
            self._socket.close()
            if self._own_storage:
                shutil.rmtree(self.storage, ignore_errors=True)
            raise
        self.host, self.port = self._socket.getsockname()[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        #: fal's hosts on this emulator (queue.fal.run, rest.fal.ai, v3.fal.media, api.fal.ai), then
        #: ``fal.run`` (the sync route), fal's server proxy, the webhook JWKS and the OpenAPI document.
        self.urls = urls = EmulatorUrls(self.base_url)
        self.queue_url, self.rest_url, self.cdn_url, self.api_url = urls.queue, urls.rest, urls.cdn, urls.api
        self.run_url, self.proxy_url, self.jwks_url, self.openapi_url = urls.run, urls.proxy, urls.jwks, urls.openapi
        #: the cassette whose answers the queue routes replay (``replay=``), or None.
        self.replay = Path(replay) if replay else None
        try:
            self.app = create_app(self.config, self.storage, self.base_url, replay=self.replay)
        except Exception:  # an unreadable cassette: leave no socket open and no storage folder behind
            self._socket.close()
            if self._own_storage:
                shutil.rmtree(self.storage, ignore_errors=True)
            raise
        self.engine: Engine = self.app.state.engine
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._thread and self._thread.is_alive() else "stopped"
        return f"<Emulator {self.base_url} {state}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=75,  # like common gateways; short idle timeouts race with pooled clients
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="seedance-emulator", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator failed to start; see the log")
            threading.Event().wait(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None
        from .._sync import run_fresh

        run_fresh(self._server.serve(sockets=[self._socket]))

    def close(self) -> None:
        """Stop the server and delete the files it stored (unless ``storage`` was given)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server, self._thread = None, None
        with contextlib.suppress(OSError):
            self._socket.close()
        if self._own_storage:
            shutil.rmtree(self.storage, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ control

    def stats(self) -> dict[str, Any]:
        """Counts of HTTP requests per route, submissions, outcomes, billed seconds, load."""
        return self.engine.snapshot()

    def configure(self, **changes: Any) -> None:
        """Change behaviour at run time (same names as :class:`EmulatorConfig`)."""
        self.engine.configure(**changes)

    def reset_stats(self) -> None:
        self.engine.reset_stats()

    def jwks(self) -> dict[str, Any]:
        """The public key that verifies this emulator's webhooks, as a JWKS (what ``jwks_url`` serves)."""
        return self.engine.jwks()


@contextlib.contextmanager
def serve(**config: Any) -> Iterator[Emulator]:
    """Run an emulator on a free loopback port for the ``with`` block (``replay=FILE`` replays a cassette)."""
    emulator = Emulator(**config).start()
    try:
        yield emulator
    finally:
        emulator.close()


def start(**config: Any) -> Emulator:
    """Start an emulator that runs until the interpreter exits (used by ``connect()``)."""
    emulator = Emulator(**config).start()
    atexit.register(emulator.close)
    return emulator


def main(argv: list[str] | None = None) -> int:
    """``python -m seedance_nb.emulator``: run the emulator in the foreground until Ctrl-C.

    Args:
        argv: the command line after the program name (default ``sys.argv[1:]``).
    """
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the emulator :func:`~seedance_nb.emulator.options.build_parser` read, print where it listens and how
    to use it, and wait for Ctrl-C (``seedance-nb emulator``).

    Args:
        args: the parsed command line.

    Raises:
        OSError: the address cannot be listened on (a busy port).
    """
    # Every option but the address and --fetch-host is the EmulatorConfig field of the same name.
    own = ("host", "port", "fetch_host", "replay")
    config = {name: value for name, value in vars(args).items() if name not in own}
    if args.fetch_host:
        config["fetch_hosts"] = tuple(args.fetch_host)
    emulator = Emulator(host=args.host, port=args.port, replay=args.replay, **config).start()
    print(f"seedance-nb emulator on {emulator.base_url}")
    if emulator.replay is not None:
        print(f"  replaying {emulator.replay} (queue answers from the cassette, timings x{args.speed:g})")
    routes = [
        ("queue", emulator.queue_url, "queue.fal.run"),
        ("rest", emulator.rest_url, "rest.fal.ai"),
        ("cdn", emulator.cdn_url, "v3.fal.media"),
        ("run", emulator.run_url, "fal.run"),
        ("proxy", emulator.proxy_url, "fal's server proxy; x-fal-target-url"),
        ("jwks", emulator.jwks_url, "webhook keys"),
    ]
    width = max(len(url) for _, url, _ in routes)
    for name, url, what in routes:
        print(f"  {name:<6} {url:<{width}}  ({what})")
    print(f"  {'stats':<6} {emulator.base_url}/_emulator/stats    Ctrl-C stops it")
    print("\n".join(usage_lines(emulator.base_url)))
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
    return 0
