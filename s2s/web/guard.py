"""What one visitor may cost, enforced before gradio sees a request: an ASGI middleware.

A public Space is shared by a class, so no single client may take it over:
- a request body larger than `Limits.max_body_bytes` is refused (413) before it is read whole;
- uploads are off (403): the page has no upload control, and the model needs no files;
- each client may start at most `Limits.rate` requests per second, in bursts of `Limits.burst`
  (a token bucket per client); above that it gets 429 with a message that says to slow down, at
  once, instead of a place in the queue that would make every other visitor wait behind it.

A client is its address. Behind a proxy (a Hugging Face Space) every request comes from the proxy,
so `Limits.client_header` names the header that carries the visitor's address (the first entry of
X-Forwarded-For); it is trusted only when set, because anyone can send that header.

Only requests that start work count against the rate: joining the queue and the API's calls. The
page's static files, its heartbeat and the streams of results do not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

WORK_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
UPLOAD_PATHS = ("/gradio_api/upload",)
API_CALL_PATH = "/gradio_api/call/"
QUEUE_JOIN_PATH = "/gradio_api/queue/join"
SLOW_DOWN = "Too many requests from your address: slow down and try again in a moment."
TOO_LARGE = "The request is too large ({size} bytes; at most {limit} here): send less text."
TOO_MANY_WAITING = "You already have {n} requests waiting: wait for their answers before sending more."
NO_UPLOADS = "Uploads are off on this server: the explorer reads only the text you type."
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen are forgotten (a full bucket is the same as none)


@dataclass(frozen=True)
class Limits:
    """The per-client limits; `from_env` reads S2S_MAX_BODY_BYTES, S2S_RATE, S2S_BURST, S2S_CLIENT_HEADER."""

    max_body_bytes: int = 64 * 1024  # a 500-character text and its settings are about 2 KB of JSON
    rate: float = 10.0  # requests per second that start work, per client (typing fast makes about 10)
    burst: int = 30
    refusal_delay: float = 1.0  # a "slow down" is sent after this long: a flood of retries then costs nothing
    max_in_flight: int = 8  # requests of one session waiting or running (a page has a few at most)
    client_header: str | None = None  # e.g. "x-forwarded-for" behind a proxy

    @classmethod
    def from_env(cls, environ: dict | None = None) -> Limits:
        env = os.environ if environ is None else environ
        on_space = bool(env.get("SPACE_ID"))  # a Space's proxy sets X-Forwarded-For
        header = env.get("S2S_CLIENT_HEADER", "x-forwarded-for" if on_space else "") or None
        return cls(max_body_bytes=int(env.get("S2S_MAX_BODY_BYTES", cls.max_body_bytes)),
                   rate=float(env.get("S2S_RATE", cls.rate)), burst=int(env.get("S2S_BURST", cls.burst)),
                   client_header=header.lower() if header else None)


class TokenBuckets:
    """One token bucket per client: `rate` tokens a second, at most `burst` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        """Spend one token of `client`'s bucket; False (and nothing spent) when it is empty."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return allowed


class Guard:
    """ASGI middleware: body size, uploads, per-client rate and per-session requests in flight.

    `in_flight(session)` says how many of a session's requests wait or run (app.py asks gradio's queue);
    API calls without a session get one per client (`_with_client_session`), so a script flooding the
    API is one session and meets the limit at once.
    """

    def __init__(self, app, limits: Limits | None = None, in_flight: Callable[[str], int] | None = None):
        self.app = app
        self.limits = limits or Limits.from_env()
        self.buckets = TokenBuckets(self.limits.rate, self.limits.burst)
        self.in_flight = in_flight

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.startswith(UPLOAD_PATHS):
            return await _refuse(send, 403, NO_UPLOADS)
        declared = _content_length(scope)
        limit = self.limits.max_body_bytes
        if declared is not None and declared > limit:
            return await _refuse(send, 413, TOO_LARGE.format(size=declared, limit=limit))
        client = self.client(scope)
        if scope.get("method") == "POST" and path.startswith(WORK_PATHS) and not self.buckets.take(client):
            return await _refuse(send, 429, SLOW_DOWN, delay=self.limits.refusal_delay)
        receive = _bounded(receive, limit)
        if scope.get("method") == "POST" and path.startswith((API_CALL_PATH, QUEUE_JOIN_PATH)):
            scope, receive, session = await _with_client_session(scope, receive, client)
            if session and self.in_flight and self.in_flight(session) >= self.limits.max_in_flight:
                message = TOO_MANY_WAITING.format(n=self.limits.max_in_flight)
                return await _refuse(send, 429, message, delay=self.limits.refusal_delay)
        return await self.app(scope, receive, send)

    def client(self, scope) -> str:
        """The visitor's address: the trusted header's first entry, else the connection's."""
        if self.limits.client_header:
            for name, value in scope.get("headers", []):
                if name.decode("latin-1").lower() == self.limits.client_header:
                    return value.decode("latin-1").split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"


class BodyTooLarge(Exception):
    """A body without a Content-Length grew past the limit while it was read."""


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _bounded(receive, limit: int):
    """`receive`, counting body bytes: past `limit` it raises instead of passing more on."""
    seen = 0

    async def bounded_receive():
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"request body over {limit} bytes")
        return message

    return bounded_receive


async def _with_client_session(scope, receive, client: str):
    """An API call without a session gets one per client: "api-" and a digest of the client's address.

    gradio builds a session (a copy of every component's config: ~5 ms and ~140 KB for this page) for
    each new session id, and each API call that names none is a new one. Calls from one client then
    share one session, as a page's events do; the endpoint keeps no state in it. Returns the scope and
    a receive that replays the (possibly rewritten) body, and the request's session (None if it has none).
    """
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return scope, _replay([message], receive), None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    session = payload.get("session_hash") if isinstance(payload, dict) else None
    if isinstance(payload, dict) and not session and scope["path"].startswith(API_CALL_PATH):
        session = payload["session_hash"] = "api-" + hashlib.sha256(client.encode()).hexdigest()[:20]
        body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
        scope = dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])
    message = {"type": "http.request", "body": body, "more_body": False}
    return scope, _replay([message], receive), session if isinstance(session, str) else None


def _replay(messages: list[dict], receive):
    """`messages` first, then whatever `receive` brings (a disconnect)."""
    pending = list(messages)

    async def replay():
        return pending.pop(0) if pending else await receive()

    return replay


async def _refuse(send, status: int, message: str, delay: float = 0.0) -> None:
    if delay:
        await asyncio.sleep(delay)  # costs no CPU; a client that retries at once retries once a second
    body = json.dumps({"error": message, "detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
