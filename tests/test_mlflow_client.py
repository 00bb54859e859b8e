"""A tracking server cannot hold collect hostage: deadline, size cap, truthful status, bad JSON."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govrl.cli import main
from govrl.evidence.interface import FetchPlan, Selection, SourceUnavailable
from govrl.evidence.mlflow import MlflowSource
from tests.support.mlflow_server import Exchange, rogue_server

RUN = "0123456789abcdef0123456789abcdef"
GET_RUN = f"/api/2.0/mlflow/runs/get?run_id={RUN}"
GIVE_UP = 10.0  # seconds a rogue server keeps going, so that a hung client fails, not hangs


def collect(record: Path, uri: str, *extra: str) -> Result:
    args = ["collect", "mlflow", str(record), "--tracking-uri", uri, "--run", RUN, *extra]
    return CliRunner().invoke(main, args)


def head(status: str, length: int | None = None, kind: str = "application/json") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {kind}", "Connection: close"]
    lines += [f"Content-Length: {length}"] if length is not None else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answering(status: str, body: bytes) -> object:
    def answer(conn: socket.socket, exchange: Exchange) -> None:
        conn.sendall(head(status, len(body)) + body)

    return answer


def refused_by_the_server(result: Result, record: Path, before: bytes, url: str) -> str:
    """The output, once checked for what every misbehaving-server failure shares."""
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert url in result.output
    assert record.read_bytes() == before
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("where", "said"),
    [("headers", "no answer within 1 s"), ("body", "the answer did not finish within 1 s")],
)
def test_a_dripping_server_is_given_up_on_at_the_deadline(
    minimal_record: Path, where: str, said: str
) -> None:
    def drip(conn: socket.socket, exchange: Exchange) -> None:
        body = b'{"run": {"info": {"run_id": "' + RUN.encode() + b'"}}}'
        text = head("200 OK", len(body)) + body
        if where == "body":
            conn.sendall(text[: len(head("200 OK", len(body)))])
            text = body
        start = time.monotonic()
        for byte in text:  # one byte every 0.5 s: never idle as long as a socket timeout
            if time.monotonic() - start > GIVE_UP:
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.5)

    import mlflow.protos.service_pb2  # noqa: F401  (imported up front: the deadline is timed, not mlflow's import)

    before = minimal_record.read_bytes()
    with rogue_server(drip) as server:
        start = time.monotonic()
        result = collect(minimal_record, server.url, "--timeout", "1")
        took = time.monotonic() - start
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert took < 3.0, took  # one deadline of 1 s, and slack for a busy machine
    assert said in output


def test_an_answer_claiming_more_than_the_cap_is_refused_unread(minimal_record: Path) -> None:
    def huge(conn: socket.socket, exchange: Exchange) -> None:
        conn.sendall(head("200 OK", 3 * 1024**3))  # 3 GiB claimed
        block = b" " * 65536
        while exchange.sent < 32 * 1024**2:
            conn.sendall(block)
            exchange.sent += len(block)

    before = minimal_record.read_bytes()
    with rogue_server(huge) as server:
        result = collect(minimal_record, server.url)
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert f"the server's answer for {server.url}{GET_RUN} is larger than" in output
    assert "67,108,864 bytes govrl reads" in output  # the documented 64 MiB cap


def test_an_endless_answer_is_cut_at_the_cap(tmp_path: Path) -> None:
    cap = 1024 * 1024

    def endless(conn: socket.socket, exchange: Exchange) -> None:
        conn.sendall(head("200 OK"))  # no length: the body ends when the connection does
        block = b"[" * 65536
        while exchange.sent < 256 * 1024**2:
            conn.sendall(block)
            exchange.sent += len(block)

    with rogue_server(endless) as server:
        source = MlflowSource(server.url, timeout=10, max_response_bytes=cap)
        start = time.monotonic()
        with pytest.raises(SourceUnavailable) as refused:
            source.fetch(Selection(run_ids=(RUN,)), FetchPlan(wants_history=lambda key: False))
        took = time.monotonic() - start
        time.sleep(0.2)  # let the server notice the closed connection
    assert f"larger than the {cap:,} bytes govrl reads" in refused.value.message
    assert refused.value.exit_code == 3
    assert took < 5.0
    # what the server managed to push: the cap plus what socket buffers hold, not 256 MiB
    assert server.exchanges[0].sent < 32 * 1024**2


def test_an_http_500_is_reported_as_such_with_mlflows_own_message(minimal_record: Path) -> None:
    error = {"error_code": "INTERNAL_ERROR", "message": "database is locked\x1b[2J" + "x" * 5000}
    before = minimal_record.read_bytes()
    with rogue_server(answering("500 Internal Server Error", json.dumps(error).encode())) as server:
        result = collect(minimal_record, server.url)
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert (
        f"the server answered HTTP 500 Internal Server Error for {server.url}{GET_RUN}: "
        "INTERNAL_ERROR: database is locked\\x1b[2J" in output
    )
    assert "\x1b" not in result.output  # printed inert
    assert "x" * 400 not in output  # and bounded
    assert "connection refused" not in output


def test_an_error_status_without_a_json_body_is_still_named(minimal_record: Path) -> None:
    before = minimal_record.read_bytes()
    with rogue_server(answering("502 Bad Gateway", b"<html>upstream down</html>")) as server:
        result = collect(minimal_record, server.url)
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert f"the server answered HTTP 502 Bad Gateway for {server.url}{GET_RUN}" in output


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"run": {"info": ', "is not JSON"),
        (b"[1, 2, 3]", "is a JSON list, not the object its API promises"),
        (b'{"run": []}', "not what MLflow's API promises: it names no run"),
        (b'{"run": {"info": {"run_id": 5}}}', "not what MLflow's API promises"),
        (b'{"run": {"data": {"metrics": [{"key": "a", "value": "x"}]}}}', "Couldn't parse float"),
    ],
    ids=["not-json", "list-for-object", "list-for-run", "number-for-string", "text-for-number"],
)
def test_a_malformed_answer_is_the_servers_fault(
    minimal_record: Path, body: bytes, said: str
) -> None:
    before = minimal_record.read_bytes()
    with rogue_server(answering("200 OK", body)) as server:
        result = collect(minimal_record, server.url)
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert f"the server's answer for {server.url}" in output
    assert said in output


def test_credentials_in_the_uri_are_sent_but_never_shown(minimal_record: Path) -> None:
    error = {"error_code": "INTERNAL_ERROR", "message": "boom"}
    before = minimal_record.read_bytes()
    with rogue_server(answering("500 Internal Server Error", json.dumps(error).encode())) as server:
        with_secret = server.url.replace("http://", "http://user:secret@")
        result = collect(minimal_record, with_secret)
    output = refused_by_the_server(result, minimal_record, before, server.url)
    assert "secret" not in result.output
    assert "HTTP 500 Internal Server Error" in output
    sent = base64.b64encode(b"user:secret")
    assert b"Authorization: Basic " + sent in server.exchanges[0].head


def mlflow_like(
    run: dict[str, Any], more: dict[str, Any]
) -> Callable[[socket.socket, Exchange], None]:
    """A run and its experiment as MLflow answers them, ``more`` by path prefix, else a file
    that never ends."""
    answers = {
        "/api/2.0/mlflow/runs/get": {"run": run},
        "/api/2.0/mlflow/experiments/get": {"experiment": {"experiment_id": "1", "name": "x"}},
        **more,
    }

    def serve(conn: socket.socket, exchange: Exchange) -> None:
        target = exchange.head.split(b" ", 2)[1].decode()
        for prefix, data in answers.items():
            if target.startswith(prefix):
                body = json.dumps(data).encode()
                conn.sendall(head("200 OK", len(body)) + body)
                return
        conn.sendall(head("200 OK", kind="application/octet-stream"))  # the file, endless
        block = b"x" * 65536
        while exchange.sent < 64 * 1024**2:
            conn.sendall(block)
            exchange.sent += len(block)

    return serve


def test_an_artifact_larger_than_its_listing_claims_is_cut_at_the_plan_cap() -> None:
    run = {"info": {"run_id": RUN, "experiment_id": "1", "artifact_uri": "mlflow-artifacts:/1/r"}}
    listing = {"files": [{"path": "stress.json", "is_dir": False, "file_size": "10"}]}
    serve = mlflow_like(run, {"/api/2.0/mlflow-artifacts/artifacts?": listing})

    plan = FetchPlan(
        lambda key: False, "govrl", frozenset({"stress.json"}), max_artifact_bytes=1024
    )
    with rogue_server(serve) as server:
        source = MlflowSource(server.url, timeout=10)
        with pytest.raises(SourceUnavailable) as refused:
            source.fetch(Selection(run_ids=(RUN,)), plan)
        time.sleep(0.2)
    assert refused.value.exit_code == 3
    message = refused.value.message
    where = f"download govrl/stress.json of run {RUN}: the server's answer for {server.url}"
    assert where in message
    assert "larger than the 1,024 bytes govrl reads" in message
    assert max(e.sent for e in server.exchanges) < 32 * 1024**2


def test_a_proxy_from_the_environment_is_used_and_its_password_never_shown(
    minimal_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = {"error_code": "INTERNAL_ERROR", "message": "boom"}
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    before = minimal_record.read_bytes()
    with rogue_server(answering("500 Internal Server Error", json.dumps(error).encode())) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://pu:psecret@"))
        result = collect(minimal_record, "http://mlflow.invalid:5000")
    output = refused_by_the_server(result, minimal_record, before, "http://mlflow.invalid:5000")
    assert f"HTTP 500 Internal Server Error for http://mlflow.invalid:5000{GET_RUN}" in output
    assert "psecret" not in result.output
    sent = proxy.exchanges[0].head
    assert sent.startswith(f"GET http://mlflow.invalid:5000{GET_RUN} HTTP/1.1".encode())
    assert b"Proxy-Authorization: Basic " + base64.b64encode(b"pu:psecret") in sent


@pytest.mark.parametrize(
    "points",
    [{"metrics": [[1.0]]}, {"metrics": [{"run_id": RUN, "value": "high"}]}, {"metrics": 3}],
    ids=["list-for-point", "text-for-value", "number-for-list"],
)
def test_a_malformed_bulk_history_is_the_servers_fault(points: dict[str, Any]) -> None:
    run = {"info": {"run_id": RUN, "experiment_id": "1"}, "data": {"metrics": [{"key": "m"}]}}
    bulk = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    with rogue_server(mlflow_like(run, {bulk: points})) as server:
        source = MlflowSource(server.url, timeout=10)
        with pytest.raises(SourceUnavailable) as refused:
            source.fetch(Selection(run_ids=(RUN,)), FetchPlan(lambda key: True))
    assert refused.value.exit_code == 3
    message = refused.value.message
    assert f"history of m: the server's answer for {server.url}{bulk}" in message
    assert "not what MLflow's API promises" in message
