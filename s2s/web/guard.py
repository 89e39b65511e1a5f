"""What one visitor may cost, enforced before gradio sees a request: an ASGI middleware.

A public Space is shared by a class, so no single visitor may take it over:
- a request body larger than `Limits.max_body_bytes` is refused (413) before it is read whole;
- uploads are off (403): the page has no upload control, and the model needs no files;
- each visitor may start at most `Limits.rate` requests per second, in bursts of `Limits.burst` (a
  token bucket each; a script's API calls without a session, `Limits.api_rate`), and have at most
  `Limits.max_in_flight` waiting or running (such a script, `Limits.api_in_flight`); above either it gets
  429 with a message that says to slow down or wait, instead of a place in the queue that would make
  everyone else wait behind it.
  The answer comes after `Limits.refusal_delay`, so a client that retries at once retries once a
  second; an address refused more than about once a second (`Limits.refusals_rate`) waits
  `Limits.persistent_factor` times as long for each further answer, so that a flood's retries, not only
  its work, stop costing the class (each refusal still costs the server ~2.6 ms of HTTP handling).

A visitor is a page's session, or for an API call without one its address (see `Guard`). Behind a
proxy (a Hugging Face Space) every request comes from the proxy, so `Limits.client_header` names the
header that carries the visitor's address; it is trusted only when set, because anyone can send that
header. A proxy appends the address it saw to what the client sent, so the first entry of X-Forwarded-For
is whatever a script chose (rotating it dodged every limit): the visitor is the right-most public address
(the proxies' own, right of it, are not public), or when every entry is private (a proxy on a school's
network) the right-most, which that proxy wrote.

Only requests that start work count: joining the queue and the API's calls. The page's static files,
its heartbeat and the streams of results do not. Nothing here changes a request: each call keeps its
own session, so no call can ever see another's answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from .. import environment

WORK_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
UPLOAD_PATHS = ("/gradio_api/upload",)
SLOW_DOWN = "Too many requests from your address: slow down and try again in a moment."
TOO_LARGE = "The request is too large ({size} bytes; at most {limit} here): send less text."
TOO_MANY_WAITING = "You already have {n} requests waiting: wait for their answers before sending more."
WRONG_COUNT = "{name} takes {n} values, in this order: {names}; got {got}."
NO_UPLOADS = "Uploads are off on this server: the explorer reads only the text you type."
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen are forgotten (a full bucket is the same as none)
PERSISTENT_SPREAD = 0.5  # a held refusal waits 1 to 1.5 times its delay, at random (Guard.refusal_delay)


@dataclass(frozen=True)
class Limits:
    """The per-client limits; `from_env` reads S2S_MAX_BODY_BYTES, S2S_RATE, S2S_BURST, S2S_ADDRESS_RATE,
    S2S_ADDRESS_BURST, S2S_NEW_SESSION_RATE, S2S_NEW_SESSION_BURST and S2S_CLIENT_HEADER."""

    max_body_bytes: int = 64 * 1024  # a 500-character text and its settings are about 2 KB of JSON
    # requests per second that start work, per visitor: each keystroke starts three events (the run, its
    # details, the reference check), so typing 10 keys a second makes ~30 (measured in Chromium)
    rate: float = 30.0
    burst: int = 90
    refusal_delay: float = 1.0  # a "slow down" is sent after this long: a flood of retries then costs nothing
    refusals_rate: float = 1.0  # refusals per second an address gets at refusal_delay (bursts of refusals_burst)
    refusals_burst: int = 10
    persistent_factor: float = 10.0  # beyond that, each refusal waits this many times refusal_delay
    api_rate: float = 2.0  # an API call without a session (a script): requests per second, per address
    api_burst: int = 10
    max_in_flight: int = 8  # requests of one visitor waiting or running (a page has a few at most)
    # a script's calls without a session, per address: a flood's first burst of api_burst calls let in at once
    # kept both CPUs busy with its decodes, which the class's requests waited behind (`python -m bench.app
    # --clients 100 --flood`); a script that waits for each answer needs one
    api_in_flight: int = 2
    # every visitor behind one address together: a class of 100 each asking every 3 s makes ~35/s, but one
    # student typing makes ~30 (three events a key), so a lecture hall behind one NAT address needs more
    address_rate: float = 60.0
    address_burst: int = 200
    # sessions an address may open: a class of 100 opening the page at once behind one NAT address fits the
    # burst; a script that invents a session per call (to be limited as a page, not as an API call) does not
    new_session_rate: float = 1.0
    new_session_burst: int = 150
    client_header: str | None = None  # e.g. "x-forwarded-for" behind a proxy

    @classmethod
    def from_env(cls, environ: dict | None = None) -> Limits:
        env = os.environ if environ is None else environ
        space = environment.on_a_space(env)  # a Space's proxy sets X-Forwarded-For
        header = env.get("S2S_CLIENT_HEADER", "x-forwarded-for" if space else "") or None
        def rate(name: str, default: float) -> float:
            return environment.number(name, default, minimum=0.01, environ=env)

        def count(name: str, default: int) -> int:
            return environment.count(name, default, environ=env)

        return cls(max_body_bytes=count("S2S_MAX_BODY_BYTES", cls.max_body_bytes),
                   rate=rate("S2S_RATE", cls.rate), burst=count("S2S_BURST", cls.burst),
                   address_rate=rate("S2S_ADDRESS_RATE", cls.address_rate),
                   address_burst=count("S2S_ADDRESS_BURST", cls.address_burst),
                   new_session_rate=rate("S2S_NEW_SESSION_RATE", cls.new_session_rate),
                   new_session_burst=count("S2S_NEW_SESSION_BURST", cls.new_session_burst),
                   client_header=header.lower() if header else None)


class TokenBuckets:
    """One token bucket per client: `rate` tokens a second, at most `burst` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._lock = threading.Lock()

    def knows(self, client: str) -> bool:
        """Whether `client` has a bucket (has been seen, and not forgotten since)."""
        with self._lock:
            return client in self._buckets

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
    """ASGI middleware: body size, uploads, and what each visitor may have sent and still waiting.

    Who a visitor is: a page (or a gradio_client) sends its session with every request, and is limited
    by session, so a class behind one school address (one NAT) is 100 visitors, not one. An API call
    without a session is limited by its address. Every address also has a coarse limit (`address_rate`)
    that a whole class stays under, and may open only so many new sessions (`new_session_rate`, in bursts of
    `new_session_burst`), against a client that invents a session per request.

    `queue` tells how many requests of a session wait or run, and whether an event still does
    (app.py asks gradio's queue: `serving.QueueView`).
    """

    def __init__(self, app, limits: Limits | None = None, queue=None,
                 endpoints: dict[str, tuple[str, ...]] | None = None):
        """endpoints: each public endpoint's path (/gradio_api/call/NAME) -> its parameters' names: a call with
        another number of values is refused here in one line (gradio answers too few with no message at all,
        and takes too many as if the extra were not there)."""
        self.app = app
        self.endpoints = dict(endpoints or {})
        self.limits = limits or Limits.from_env()
        self.buckets = TokenBuckets(self.limits.rate, self.limits.burst)
        self.api_buckets = TokenBuckets(self.limits.api_rate, self.limits.api_burst)
        self.address_buckets = TokenBuckets(self.limits.address_rate, self.limits.address_burst)
        self.refusal_buckets = TokenBuckets(self.limits.refusals_rate, self.limits.refusals_burst)
        self.session_buckets = TokenBuckets(self.limits.new_session_rate, self.limits.new_session_burst)
        self.queue = queue
        self._events: dict[str, deque] = {}  # address -> ids of its session-less calls (the latest few)

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
        receive = _bounded(receive, limit)
        if declared is None and scope.get("method") != "GET":
            # Sent in chunks without its length: read it here (at most `limit` bytes), so that a body too
            # large is refused before the app has begun to answer, not raised out of it as a server error.
            try:
                receive = await _buffered(receive)
            except BodyTooLarge:
                return await _refuse(send, 413, TOO_LARGE.format(size=f"more than {limit}", limit=limit))
        return await self._limited(scope, receive, send)

    async def _limited(self, scope, receive, send):
        """The per-visitor limits of a request that starts work; any other goes straight on."""
        path = scope.get("path", "")
        if scope.get("method") != "POST" or not path.startswith(WORK_PATHS):
            return await self.app(scope, receive, send)
        address = self.client(scope)
        receive, payload = await _payload_of(receive)
        session = payload.get("session_hash") if isinstance(payload, dict) else None
        session = session if isinstance(session, str) and session else None
        wanted = self.endpoints.get(path)
        if wanted is not None:
            given = payload.get("data") if isinstance(payload, dict) else None
            if not isinstance(given, list) or len(given) != len(wanted):
                count = (f"{len(given)} value{'' if len(given) == 1 else 's'}" if isinstance(given, list)
                         else "no list of values")
                return await _refuse(send, 422, WRONG_COUNT.format(name=path.rsplit("/", 1)[-1], n=len(wanted),
                                                                   names=", ".join(wanted), got=count))
        if session and not self.buckets.knows(session) and not self.session_buckets.take(address):
            return await _refuse(send, 429, SLOW_DOWN, delay=self.refusal_delay(address))  # a new session too many
        visitor = self.buckets.take(session) if session else self.api_buckets.take(address)
        if not self.address_buckets.take(address) or not visitor:
            return await _refuse(send, 429, SLOW_DOWN, delay=self.refusal_delay(address))
        most = self.limits.max_in_flight if session else self.limits.api_in_flight
        if self.waiting(session, address) >= most:
            message = TOO_MANY_WAITING.format(n=most)
            return await _refuse(send, 429, message, delay=self.refusal_delay(address))
        if session is None:
            send = self._noting_events(send, address)
        return await self.app(scope, receive, send)

    def refusal_delay(self, address: str) -> float:
        """How long this refusal waits: refusal_delay, or persistent_factor times it for an address that keeps
        being refused (a flood's connections are then held, at no CPU cost, instead of answered and resent).

        A held refusal waits up to PERSISTENT_SPREAD longer, at random: a flood refused all at once came back
        all at once, and each wave of ~150 answers and retries held the event loop for a few hundred ms, which
        the class's requests waited behind (the flood's cost was in its waves, not its total)."""
        if self.refusal_buckets.take(address):
            return self.limits.refusal_delay
        held = self.limits.refusal_delay * self.limits.persistent_factor
        return held * random.uniform(1.0, 1.0 + PERSISTENT_SPREAD)

    def waiting(self, session: str | None, address: str) -> int:
        """Requests of this session (or, without one, of this address's session-less calls) waiting or running."""
        if self.queue is None:
            return 0
        if session is not None:
            return self.queue.waiting(session)
        events = self._events.get(address, ())
        return sum(1 for event in list(events) if self.queue.pending(event))

    def _noting_events(self, send, address: str):
        """`send`, noting the event id gradio answers a session-less call with, under the caller's address."""
        async def noting(message):
            if message.get("type") == "http.response.body":
                try:
                    event = json.loads(message.get("body", b"") or b"null")
                except ValueError:
                    event = None
                if isinstance(event, dict) and isinstance(event.get("event_id"), str):
                    events = self._events.setdefault(address, deque(maxlen=4 * self.limits.max_in_flight))
                    events.append(event["event_id"])
                    while len(self._events) > MAX_CLIENTS:
                        self._events.pop(next(iter(self._events)))
            await send(message)

        return noting

    def client(self, scope) -> str:
        """The visitor's address: from the trusted header (see the module docstring), else the connection's."""
        if self.limits.client_header:
            for name, value in scope.get("headers", []):
                if name.decode("latin-1").lower() == self.limits.client_header:
                    forwarded = forwarded_client(value.decode("latin-1"))
                    if forwarded is not None:
                        return forwarded
        client = scope.get("client")
        return client[0] if client else "unknown"


def forwarded_client(header: str) -> str | None:
    """The visitor in an X-Forwarded-For chain: the right-most address that is global (public), else the
    right-most address at all (every one private: a proxy on a school's network); None if none parses.

    Entries left of the one the outermost proxy appended are the client's own words, so they are never
    chosen over it; the non-global entries right of it are proxies inside the host's network.
    """
    addresses = [address for address in map(_address, header.split(",")) if address is not None]
    public = [address for address in addresses if address.is_global]
    chosen = public[-1] if public else addresses[-1] if addresses else None
    return None if chosen is None else str(chosen)


def _address(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An X-Forwarded-For entry ("v4", "v4:port", "v6", "[v6]:port") as an address; None if it is none."""
    host = entry.strip()
    if host.startswith("["):
        host = host[1:].split("]")[0]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None  # not an address: no proxy wrote it


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


async def _read_body(receive) -> bytes | dict:
    """The request's whole body, or the message that ended it early (a disconnect)."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _buffered(receive):
    """A receive that replays the body read whole (raises BodyTooLarge as `receive` does)."""
    body = await _read_body(receive)
    if isinstance(body, dict):
        return _replay([body], receive)
    return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


async def _payload_of(receive):
    """Read the request's JSON body: (a receive that replays it, the parsed JSON or None)."""
    body = await _read_body(receive)
    if isinstance(body, dict):
        return _replay([body], receive), None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        payload = None
    return _replay([{"type": "http.request", "body": body, "more_body": False}], receive), payload


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
