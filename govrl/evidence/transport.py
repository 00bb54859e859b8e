"""An HTTP client a server cannot hold hostage: a total deadline, a size cap, truthful failures.

Each request runs on its own connection: a stuck server costs one socket and never poisons the
next request, and no call waits out a kept-alive connection's Nagle delay.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import getproxies, proxy_bypass

from govrl.evidence.interface import SourceUnavailable

# The largest JSON answer govrl reads. MLflow's biggest answers are metric histories: a bulk
# answer holds at most 25,000 points (about 3 MB), so 64 MiB is ample and still bounds memory.
MAX_JSON_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_DETAIL = 300  # characters of a server's own error message worth showing
# query parameters that carry credentials, never shown
_SECRET_PARAMS = {"token", "access_token", "api_key", "apikey", "key", "password", "secret"}
_SECRET_PARTS = ("token", "secret", "password", "signature", "sig", "credential", "auth")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inert(text: str, limit: int = _DETAIL) -> str:
    """Server-supplied text fit to print: control characters escaped, one line, bounded."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text.strip())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def shown_url(url: str) -> str:
    """The URL without user:password@ and without query parameters that carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _SECRET_PARAMS and not any(s in k.lower() for s in _SECRET_PARTS)
    ]
    return inert(urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), "")))


class HttpStatusError(SourceUnavailable):
    """The server answered with an error status; ``code`` and ``detail`` are its own words."""

    def __init__(self, url: str, status: int, reason: str, code: str, detail: str) -> None:
        said = f": {code + ': ' if code else ''}{detail}" if detail or code else ""
        super().__init__(f"the server answered HTTP {status} {reason} for {url}{said}")
        self.url, self.status, self.reason = url, status, reason
        self.code, self.detail = code, detail


class Unreachable(SourceUnavailable):
    """No complete answer: refused, lost, or past the deadline."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach {url}: {reason}",
            hint="check the URI and that the server is running; the record was not changed",
        )
        self.url, self.reason = url, reason


class SlowResolution(TimeoutError):
    """The host name was not resolved before the deadline (the resolver itself knows none)."""


def resolving_within(deadline: float) -> Callable[..., socket.socket]:
    """``socket.create_connection`` whose name lookup also ends at ``deadline`` (monotonic).

    ``getaddrinfo`` blocks without a timeout and outside any socket, so it runs on a daemon
    thread that is abandoned when the deadline passes.
    """

    def create(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        found: list[Any] = []

        def look_up() -> None:
            try:
                found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except OSError as exc:
                found.append(exc)

        lookup = threading.Thread(target=look_up, daemon=True)
        lookup.start()
        lookup.join(max(0.0, deadline - time.monotonic()))
        if not found:
            raise SlowResolution(host)
        if isinstance(found[0], OSError):
            raise found[0]
        failure: OSError = OSError(f"{host} has no address")
        for *_, sockaddr in found[0]:  # each address in turn, as create_connection tries them
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connecting to {host}")
            try:  # every attempt shares the one deadline
                wait = min(timeout, left) if isinstance(timeout, int | float) else left
                return socket.create_connection((sockaddr[0], port), wait, source_address)
            except OSError as exc:
                failure = exc
        raise failure

    return create


class ServerMisbehaved(SourceUnavailable):
    """The server's answer was too slow, too large or not what its API promises (exit 3)."""


@dataclass
class Answer:
    status: int
    body: bytes
    url: str  # as shown to a user


@dataclass
class BoundedHttp:
    """Requests against one base URL, each bounded in time (connect to last byte) and size."""

    base: str
    timeout: float
    headers: dict[str, str] = field(default_factory=dict)
    context: ssl.SSLContext | None = None
    max_bytes: int = MAX_JSON_BYTES

    def __post_init__(self) -> None:
        parts = urlsplit(self.base)
        if parts.username is not None and "Authorization" not in self.headers:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = "Basic " + b64(pair)
        self._scheme = parts.scheme
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")

    def _connect(self, target: str) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
        """A connection to the server, or through the proxy the environment names for it."""
        proxy = None if proxy_bypass(self._host) else getproxies().get(self._scheme)
        via = urlsplit(proxy) if proxy and proxy.startswith("http://") else None
        host, port, headers = self._host, self._port, {}
        if via is not None:
            host, port = via.hostname or "", via.port or 80
            if via.username is not None:
                pair = f"{unquote(via.username)}:{unquote(via.password or '')}".encode()
                headers["Proxy-Authorization"] = "Basic " + b64(pair)
        if self._https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self.context
            )
            if via is not None:  # a tunnel: the proxy sees only CONNECT
                conn.set_tunnel(self._host, self._port, headers=headers)
            return conn, target, {}
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        if via is not None:  # a plain proxy takes the whole URL
            netloc = self._host + (f":{self._port}" if self._port else "")
            target = f"http://{netloc}{target}"
        return conn, target, headers

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self._prefix}{quote(path)}{query}"

    def shown(self, target: str) -> str:
        scheme = "https" if self._https else "http"
        port = f":{self._port}" if self._port else ""
        return shown_url(f"{scheme}://{self._host}{port}{target}")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.json(self.request("GET", self.url(path, params)))

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.json(self.request("POST", self.url(path), json.dumps(body).encode()))

    def json(self, answer: Answer) -> dict[str, Any]:
        """The answer's JSON object, or the server's fault when it is anything else."""
        try:
            data = json.loads(answer.body) if answer.body.strip() else {}
        except (ValueError, RecursionError) as exc:
            raise ServerMisbehaved(
                f"the server's answer for {answer.url} is not JSON: {inert(str(exc), 120)}"
            ) from None
        if not isinstance(data, dict):
            raise ServerMisbehaved(
                f"the server's answer for {answer.url} is a JSON {type(data).__name__}, "
                "not the object its API promises"
            )
        return data

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        *,
        max_bytes: int | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        """Send one request; the whole exchange must end within ``timeout`` seconds."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        url = self.shown(target)
        conn, target, proxy_headers = self._connect(target)
        started = time.monotonic()
        conn._create_connection = resolving_within(started + self.timeout)  # type: ignore[attr-defined]
        expired = threading.Event()
        held: list[socket.socket] = []  # the response reads on after the connection lets go

        def cut() -> None:
            # a read blocked on a dripping server ends at once when its socket is shut down;
            # the plain socket's shutdown leaves an SSL object to the thread that reads it
            expired.set()
            for sock in [conn.sock, *held]:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)

        deadline = threading.Timer(self.timeout, cut)
        deadline.daemon = True
        answered = False  # the status line and headers arrived
        deadline.start()
        try:
            headers = {"Accept": "application/json", **self.headers, **proxy_headers}
            if body is not None:
                headers["Content-Type"] = content_type
            conn.request(method, target, body=body, headers=headers)
            held.append(conn.sock)
            if expired.is_set():  # the deadline passed while the socket was being handed over
                raise TimeoutError
            response = conn.getresponse()
            answered = True
            content = _read_capped(response, cap, url)
            if expired.is_set():  # the last bytes may have raced the deadline
                raise TimeoutError
        except ServerMisbehaved:
            raise
        except SlowResolution as exc:
            why = f"looking up {exc} did not finish within {self.timeout:g} s"
            raise Unreachable(url, why) from None
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or time.monotonic() - started >= self.timeout:
                late = "the answer did not finish" if answered else "no answer"
                raise Unreachable(url, f"{late} within {self.timeout:g} s") from None
            raise Unreachable(url, _why(exc)) from None
        finally:
            deadline.cancel()
            conn.close()
        if not 200 <= response.status < 300:
            code, detail = _error_body(content)
            moved = response.getheader("Location")
            if 300 <= response.status < 400 and moved:  # never followed: say where it points
                detail = f"it redirects to {shown_url(urljoin(url, moved))}"
            reason = inert(response.reason or "", 80)
            raise HttpStatusError(url, response.status, reason, code, detail)
        return Answer(response.status, content, url)


def _read_capped(response: http.client.HTTPResponse, cap: int, url: str) -> bytes:
    """The body, refused as soon as it claims or grows past ``cap`` bytes."""
    too_big = ServerMisbehaved(
        f"the server's answer for {url} is larger than the {cap:,} bytes govrl reads; "
        "refused without reading it all"
    )
    claimed = response.getheader("Content-Length")
    if claimed is not None and claimed.strip().isdigit() and int(claimed) > cap:
        raise too_big
    chunks, size = [], 0
    while chunk := response.read(min(_CHUNK, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise too_big
    return b"".join(chunks)


def _error_body(content: bytes) -> tuple[str, str]:
    """MLflow's ``error_code`` and ``message`` when the error answer carries them."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    code, message = data.get("error_code"), data.get("message")
    return (
        inert(code, 80) if isinstance(code, str) else "",
        inert(message) if isinstance(message, str) else "",
    )


def _why(exc: OSError | http.client.HTTPException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return "the server closed the connection before answering in full"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({inert(exc.reason or str(exc), 120)})"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({type(exc).__name__})"
    return inert(exc.strerror or str(exc) or type(exc).__name__, 120)
