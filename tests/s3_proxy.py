"""A fault-injecting HTTP proxy in front of moto's server, for tests of how trailmin meets AWS
failures that moto does not make itself (a reset mid-body, an expired token, a 500).

API::

    proxy = start(target_url, rule)   # -> Proxy, a str: the proxy's URL, for endpoint_url=proxy
    proxy.requests                    # every request seen, in order: Request values
    proxy.operations                  # their "service:Operation" names, e.g. "s3:GetObject"
    proxy.stop()                      # also: with start(...) as proxy: ...

``rule(request) -> Action`` decides each request, on the proxy's thread for it:

- ``PASS``: forward to ``target_url`` and return moto's response unchanged;
- ``RESET``: forward, then send moto's status line, headers (the full Content-Length) and half
  the body, and reset the connection (TCP RST), as a dropped connection does mid-download;
- a ``Reply``: answer with it and forward nothing. ``s3_error(400, "ExpiredToken", "…")`` is S3's
  REST-XML error shape, ``query_error(403, "ExpiredToken", "…")`` that of the query APIs (IAM,
  STS), ``INTERNAL_ERROR`` S3's 500; botocore parses them into a ``ClientError`` as it does AWS's.

The service comes from the SigV4 credential scope of the Authorization header, the operation from
the query API's ``Action`` or, for S3, the method and the path-style URL (botocore uses path style
with an ``endpoint_url`` on 127.0.0.1). Rules that count (reset the first N reads of a key) keep
their own counter: they run on several threads, so guard it with a lock.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from xml.sax.saxutils import escape

PASS: Literal["pass"] = "pass"
RESET: Literal["reset"] = "reset"
# Hop-by-hop headers, and Expect: the proxy sends the whole request body at once.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


@dataclass(frozen=True, slots=True)
class Reply:
    """A canned response the proxy sends instead of forwarding the request."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/xml"})


Action = Literal["pass", "reset"] | Reply


@dataclass(frozen=True, slots=True)
class Request:
    """One request the proxy received."""

    method: str
    path: str  # without the query string, e.g. "/bucket/AWSLogs/x.json.gz"
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    service: str  # "s3", "iam", "sts", … from the credential scope; "" when unsigned
    operation: str  # "GetObject", "GetAccountAuthorizationDetails", … or "<METHOD> <path>"

    @property
    def bucket(self) -> str:
        """Return the bucket of a path-style S3 request ("" for none)."""
        return self.path.lstrip("/").split("/", 1)[0]

    @property
    def key(self) -> str:
        """Return the object key of a path-style S3 request ("" for a bucket request)."""
        parts = self.path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[1]) if len(parts) == 2 else ""


def s3_error(status: int, code: str, message: str) -> Reply:
    """Return an S3 REST-XML error response."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        "<RequestId>TRAILMINPROXY</RequestId></Error>"
    )
    return Reply(status, body.encode())


def query_error(status: int, code: str, message: str) -> Reply:
    """Return a query-API (IAM, STS) XML error response."""
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        "<RequestId>trailmin-proxy</RequestId></ErrorResponse>"
    )
    return Reply(status, body.encode(), {"Content-Type": "text/xml"})


INTERNAL_ERROR = s3_error(500, "InternalError", "We encountered an internal error. Try again.")


class Proxy(str):
    """The proxy's URL (use it as ``endpoint_url``), with what it saw and a way to stop it."""

    requests: list[Request]
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    @property
    def operations(self) -> list[str]:
        """Return the "service:Operation" of every request so far, in order."""
        return [f"{r.service}:{r.operation}" for r in list(self.requests)]

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start(target_url: str, rule: Callable[[Request], Action]) -> Proxy:
    """Start a proxy to ``target_url`` on a free port of 127.0.0.1; return it (its URL)."""
    target = urllib.parse.urlsplit(target_url)
    seen: list[Request] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = _request_of(self.command, self.path, self.headers, body)
            with lock:
                seen.append(request)
            action = rule(request)
            if isinstance(action, Reply):
                self._answer(action.status, dict(action.headers), action.body)
                return
            status, headers, content = _forward(target, self.command, self.path, request, body)
            if action == RESET:
                self._reset(status, headers, content)
            else:
                self._answer(status, headers, content)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        def _answer(self, status: int, headers: dict[str, str], content: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "content-length" not in {name.lower() for name in headers}:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def _reset(self, status: int, headers: dict[str, str], content: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            # Let the client take the headers and the first half before the reset: a reset
            # that overtakes them would fail the request itself, which botocore retries.
            time.sleep(0.05)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def finish(self) -> None:
            with contextlib.suppress(OSError):  # the connection was reset on purpose
                super().finish()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="s3-proxy", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    proxy = Proxy(f"http://{host!s}:{port}")
    proxy.requests = seen
    proxy._server = server
    proxy._thread = thread
    return proxy


def _forward(
    target: urllib.parse.SplitResult, method: str, path: str, request: Request, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Return moto's status, headers and body for the request."""
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
    try:
        headers = {k: v for k, v in request.headers.items() if k not in _NOT_FORWARDED}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        content = response.read()
        kept = {
            name: value
            for name, value in response.getheaders()
            if name.lower() not in _NOT_FORWARDED and name.lower() != "content-length"
        }
        # HEAD answers carry the object's length, not the (empty) body's.
        if method == "HEAD" and response.getheader("Content-Length") is not None:
            kept["Content-Length"] = response.getheader("Content-Length", "0")
        else:
            kept["Content-Length"] = str(len(content))
        return response.status, kept, content
    finally:
        connection.close()


def _request_of(method: str, raw_path: str, headers: Any, body: bytes) -> Request:
    parts = urllib.parse.urlsplit(raw_path)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    lowered = {name.lower(): value for name, value in headers.items()}
    service = _service_of(lowered.get("authorization", ""))
    form: dict[str, str] = {}
    if "x-www-form-urlencoded" in lowered.get("content-type", ""):
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
    action = form.get("Action") or query.get("Action")
    if action:
        operation = action
    elif "x-amz-target" in lowered:
        operation = lowered["x-amz-target"].rsplit(".", 1)[-1]
    else:
        operation = _s3_operation(method, parts.path, query)
    return Request(method, parts.path, query, lowered, body, service, operation)


def _service_of(authorization: str) -> str:
    """Return the service of a SigV4 Authorization header (Credential=id/date/region/svc/...)."""
    for item in authorization.replace(",", " ").split():
        if item.startswith("Credential="):
            scope = item.removeprefix("Credential=").split("/")
            return scope[3] if len(scope) >= 5 else ""
    return ""


def _s3_operation(method: str, path: str, query: Mapping[str, str]) -> str:
    """Return the S3 operation of a path-style REST request, or "<METHOD> <path>"."""
    parts = path.lstrip("/").split("/", 1)
    bucket, key = parts[0], parts[1] if len(parts) == 2 else ""
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method} {path}"
    if key:
        if "uploadId" in query or "uploads" in query:
            return f"{method} {path}"  # multipart: not needed by trailmin's tests
        return {
            "GET": "GetObject",
            "HEAD": "HeadObject",
            "PUT": "PutObject",  # CopyObject too: told apart by a header, unneeded here
            "DELETE": "DeleteObject",
        }.get(method, f"{method} {path}")
    if method == "GET":
        return "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(
        method, f"{method} {path}"
    )
