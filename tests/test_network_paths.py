"""Publish and the archive's copy on MLflow are bounded like collect: every request, every path.

A scripted server answers the lookups correctly and misbehaves on one request, so each
test reaches the request it means to test (an upload, a tag, a download).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from govrl.cli import main
from tests.support.mlflow_server import Exchange, rogue_server

RUN = "0123456789abcdef0123456789abcdef"
ROOT = f"mlflow-artifacts:/1/{RUN}/artifacts"
GIVE_UP = 10.0  # seconds a dripping answer lasts at most, so a hung client fails, not hangs
LOOKUPS = {
    "/api/2.0/mlflow/model-versions/get": {
        "model_version": {"name": "policy", "version": "1", "run_id": RUN}
    },
    "/api/2.0/mlflow/runs/get": {
        "run": {
            "info": {"run_id": RUN, "experiment_id": "1", "artifact_uri": ROOT},
            "data": {},
        }
    },
}

Answer = Callable[[socket.socket, Exchange], None]


def request_line(exchange: Exchange) -> tuple[str, str]:
    method, target, _ = exchange.head.split(b"\r\n", 1)[0].decode().split(" ", 2)
    return method, target


def send(conn: socket.socket, status: str, body: bytes) -> None:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n"
    conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


def drip(conn: socket.socket, exchange: Exchange) -> None:
    """One byte every half second: never idle as long as a socket timeout."""
    start = time.monotonic()
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}":
        if time.monotonic() - start > GIVE_UP:
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def scripted(misbehave: Callable[[str, str], Answer | None], listing: object = None) -> Answer:
    """Answer MLflow's lookups; hand the request ``misbehave`` picks to its answer."""

    def answer(conn: socket.socket, exchange: Exchange) -> None:
        method, target = request_line(exchange)
        chosen = misbehave(method, target)
        if chosen is not None:
            chosen(conn, exchange)
            return
        path = target.split("?", 1)[0]
        if path in LOOKUPS:
            send(conn, "200 OK", json.dumps(LOOKUPS[path]).encode())
        elif path == "/api/2.0/mlflow-artifacts/artifacts":  # a listing
            listed = target.endswith("%2Fgovrl-archive") and listing
            send(conn, "200 OK", json.dumps(listed or {}).encode())
        else:
            send(conn, "200 OK", b"{}")

    return answer


def publish(record: Path, url: str) -> Result:
    args = ["publish", str(record), "--tracking-uri", url, "--model", "policy/1", "--timeout", "1"]
    return CliRunner().invoke(main, args)


def failed_with_the_environment(result: Result) -> str:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return " ".join(result.output.split())


def test_a_dripping_upload_ends_publish_at_the_deadline_before_any_tag(
    sepsis_record: Path,
) -> None:
    def upload(method: str, target: str) -> Answer | None:
        return drip if method == "PUT" else None

    import mlflow.protos.model_registry_pb2  # noqa: F401  (the deadline is timed, not the import)

    before = sepsis_record.read_bytes()
    with rogue_server(scripted(upload)) as server:
        start = time.monotonic()
        result = publish(sepsis_record, server.url)
        took = time.monotonic() - start
    output = failed_with_the_environment(result)
    # one deadline of 1 s, the decision and the lookups, with slack for a busy machine; a
    # socket timeout alone would wait out the whole drip (GIVE_UP)
    assert took < 5.0, took
    assert "upload governance/sepsis.yaml" in output
    assert "within 1 s" in output
    requests = [request_line(e) for e in server.exchanges]
    put = ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/1/{RUN}/artifacts/governance/sepsis.yaml")
    assert put in requests
    assert not [r for r in requests if "set-tag" in r[1]]  # files first: no tag was written
    assert sepsis_record.read_bytes() == before


def test_a_server_error_on_tagging_is_reported_as_the_servers_status(sepsis_record: Path) -> None:
    error = {"error_code": "INTERNAL_ERROR", "message": "database is locked"}

    def tag(method: str, target: str) -> Answer | None:
        if "set-tag" not in target:
            return None
        return lambda conn, exchange: send(
            conn, "500 Internal Server Error", json.dumps(error).encode()
        )

    with rogue_server(scripted(tag)) as server:
        result = publish(sepsis_record, server.url)
    output = failed_with_the_environment(result)
    assert "HTTP 500 Internal Server Error" in output
    assert "INTERNAL_ERROR: database is locked" in output
    assert "refused" not in output  # a 500 is not a refused connection


def test_a_malformed_answer_to_the_archive_lookup_is_the_servers_fault_without_credentials(
    tmp_path: Path,
) -> None:
    def lookup(method: str, target: str) -> Answer | None:
        if not target.startswith("/api/2.0/mlflow/model-versions/get"):
            return None
        return lambda conn, exchange: send(conn, "200 OK", b'{"model_version": [1, 2]')

    with rogue_server(scripted(lookup)) as server:
        uri = server.url.replace("http://", "http://auditor:hunter2@")
        args = ["archive", "verify", "--model", "policy/1", "--tracking-uri", uri]
        args += ["--timeout", "1", "--no-signatures"]
        result = CliRunner().invoke(main, args)
    output = failed_with_the_environment(result)
    assert "is not JSON" in output
    assert f"{server.url}/api/2.0/mlflow/model-versions/get" in output
    assert "hunter2" not in output and "auditor" not in output


def test_a_dripping_download_of_the_archive_copy_ends_at_the_deadline() -> None:
    listing = {"files": [{"path": "log.jsonl", "is_dir": False, "file_size": 10}]}

    def download(method: str, target: str) -> Answer | None:
        return drip if target.endswith("/govrl-archive/log.jsonl") else None

    import mlflow.protos.model_registry_pb2  # noqa: F401  (the deadline is timed, not the import)

    with rogue_server(scripted(download, listing)) as server:
        args = ["archive", "verify", "--model", "policy/1", "--tracking-uri", server.url]
        args += ["--no-signatures"]
        start = time.monotonic()
        result = CliRunner().invoke(main, [*args, "--timeout", "1"])
        took = time.monotonic() - start
    output = failed_with_the_environment(result)
    assert took < 5.0, took  # as above: the drip would last GIVE_UP
    assert "within 1 s" in output
    assert any(request_line(e)[1].endswith("govrl-archive/log.jsonl") for e in server.exchanges)


def test_a_folder_listed_inside_itself_forever_is_refused() -> None:
    def nested(method: str, target: str) -> Answer | None:
        if not target.startswith("/api/2.0/mlflow-artifacts/artifacts?"):
            return None
        inside = {"files": [{"path": "again", "is_dir": True}]}
        return lambda conn, exchange: send(conn, "200 OK", json.dumps(inside).encode())

    with rogue_server(scripted(nested)) as server:
        args = ["archive", "verify", "--model", "policy/1", "--tracking-uri", server.url]
        result = CliRunner().invoke(main, [*args, "--no-signatures"])
    output = failed_with_the_environment(result)
    assert "govrl-archive holds more than 100000 files or 16 levels" in output
    assert len(server.exchanges) < 40
