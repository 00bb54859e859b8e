"""A real `mlflow server` on 127.0.0.1, and a count of the HTTP requests MLflow's client sends."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]
