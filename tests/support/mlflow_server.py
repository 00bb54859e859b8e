"""A real `mlflow server` on 127.0.0.1, and a count of the HTTP requests MLflow's client sends."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MLFLOW = Path(sys.executable).with_name("mlflow")


@dataclass
class MlflowServer:
    """One `mlflow server` process group on 127.0.0.1."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the whole process group (the server forks workers that otherwise linger)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """End it at once, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database: Path, artifacts: Path, *, wait: float = 60.0) -> MlflowServer:
    """Start `mlflow server` on a free port over ``database``; return once /health answers."""
    port = free_port()
    log = database.with_name(f"server-{port}.log")
    env = os.environ | {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # otherwise 7 job-runner processes
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{database}"]
    command += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=database.parent,
            start_new_session=True,
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited:\n{log.read_text()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(server.url + "/health", timeout=1) as answer,
        ):
            if answer.status == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"mlflow server did not answer within {wait} s:\n{log.read_text()[-2000:]}")


@dataclass
class RequestCounter:
    """HTTP requests made through requests (which MLflow's client uses), by path."""

    paths: list[str] = field(default_factory=list)
    before: Any = None  # called with each request's number before it is sent

    @property
    def total(self) -> int:
        return len(self.paths)


@contextlib.contextmanager
def counting_requests(before: Any = None) -> Iterator[RequestCounter]:
    """Count every HTTP request sent while the block runs."""
    import requests.adapters

    counter = RequestCounter(before=before)
    original = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        counter.paths.append(request.path_url.split("?", 1)[0])
        if counter.before is not None:
            counter.before(counter.total)
        return original(self, request, *args, **kwargs)

    # govrl's own bounded client speaks http.client directly (urllib3 overrides this method)
    plain = http.client.HTTPConnection.request

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        counter.paths.append(url.split("?", 1)[0])
        if counter.before is not None:
            counter.before(counter.total)
        plain(self, method, url, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    http.client.HTTPConnection.request = request  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]
        http.client.HTTPConnection.request = plain  # type: ignore[method-assign]


@dataclass
class Exchange:
    """One request a misbehaving server read, and what it sent back."""

    head: bytes
    sent: int = 0


@dataclass
class RogueServer:
    """A raw socket server on 127.0.0.1 that answers every request with ``answer``."""

    url: str
    exchanges: list[Exchange]


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            break
        head += chunk
    return head


@contextlib.contextmanager
def rogue_server(answer: Callable[[socket.socket, Exchange], None]) -> Iterator[RogueServer]:
    """Serve on a free port; ``answer`` writes raw bytes back for each connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    exchanges: list[Exchange] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            exchange = Exchange(_read_head(conn))
            exchanges.append(exchange)
            with contextlib.suppress(OSError):  # the client gave up: that is the point
                answer(conn, exchange)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield RogueServer(f"http://127.0.0.1:{listener.getsockname()[1]}", exchanges)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
