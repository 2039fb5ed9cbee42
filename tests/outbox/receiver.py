"""A real webhook receiver on 127.0.0.1, behaving as a careful status page would: it verifies
every signature with `govsvc.outbox.signing.verify`, processes each idempotency key once, and
can be told to misbehave on purpose (answer slowly, refuse, throttle)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from govsvc.outbox.signing import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)


@dataclass(frozen=True)
class Answer:
    """Answer with this status (and headers) without processing the delivery."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Slow:
    """Process the delivery, then take `seconds` to answer 200 (past the client's timeout)."""

    seconds: float


Behaviour = Answer | Slow


@dataclass(frozen=True)
class Seen:
    path: str
    key: str
    event: str
    attempt: str
    body: bytes
    signature_ok: bool
    duplicate: bool


class Receiver:
    def __init__(self, secret: str):
        self.secret = secret
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self.seen: list[Seen] = []
        self.processed: dict[tuple[str, str], bytes] = {}  # (path, key) -> body
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True  # a handler still sleeping must not hold up teardown
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def will(self, *behaviours: Behaviour) -> None:
        """Behave like this for the next requests, in order; then answer 200 again."""
        with self._lock:
            self._script.extend(behaviours)

    def keys_seen(self) -> list[str]:
        with self._lock:
            return [s.key for s in self.seen]

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else Answer(200)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                key = self.headers.get(IDEMPOTENCY_HEADER, "")
                behaviour = receiver._next()
                processes = ok and not (isinstance(behaviour, Answer) and behaviour.status >= 300)
                with receiver._lock:
                    # Claim the key before the (slow) work, as a unique index would.
                    duplicate = (self.path, key) in receiver.processed
                    if processes and not duplicate:
                        receiver.processed[(self.path, key)] = body
                    receiver.seen.append(
                        Seen(
                            self.path,
                            key,
                            self.headers.get(EVENT_HEADER, ""),
                            self.headers.get("X-Govsvc-Attempt", ""),
                            body,
                            ok,
                            duplicate,
                        )
                    )
                if not ok:
                    self._reply(401, {})
                elif isinstance(behaviour, Slow):
                    time.sleep(behaviour.seconds)
                    self._reply(200, {})
                else:
                    self._reply(behaviour.status, behaviour.headers)

            def _reply(self, status: int, headers: dict[str, str]) -> None:
                # The client may have given up already (that is the point of Slow).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler
