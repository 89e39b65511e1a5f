"""The request guard in front of the app: body size, uploads, and each client's rate."""

from __future__ import annotations

import json
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from s2s.web import guard
from s2s.web.guard import PERSISTENT_SPREAD, Guard, Limits, TokenBuckets


async def echo(request):
    body = await request.body()
    return JSONResponse({"bytes": len(body)})


def client_for(limits: Limits, **options) -> TestClient:
    app = Starlette(routes=[Route("/gradio_api/{rest:path}", echo, methods=["GET", "POST"])])
    return TestClient(Guard(app, limits), **options)


def test_a_body_over_the_limit_is_refused_with_a_message():
    client = client_for(Limits(max_body_bytes=1000))
    assert client.post("/gradio_api/call/translate", content=b"x" * 1000).json() == {"bytes": 1000}
    refused = client.post("/gradio_api/call/translate", content=b"x" * 1001)
    assert refused.status_code == 413
    assert "too large" in refused.json()["error"] and "1001" in refused.json()["error"]


@pytest.mark.parametrize("path", ["/gradio_api/call/translate", "/gradio_api/queue/data"])
def test_a_body_without_a_length_is_cut_off_at_the_limit_with_413(path):
    """It used to raise out of the middleware: a server error and a traceback (review of 2026-11-29)."""
    client = client_for(Limits(max_body_bytes=1000), raise_server_exceptions=True)

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    refused = client.post(path, content=chunks())
    assert refused.status_code == 413 and "more than 1000 bytes; at most 1000" in refused.json()["error"]
    assert client.post(path, content=iter([b"{}"])).json() == {"bytes": 2}  # a small one goes on


def test_a_body_nested_deeper_than_json_goes_is_no_session_not_an_error():
    client = client_for(Limits(max_body_bytes=300_000, api_rate=1000, api_burst=1000), raise_server_exceptions=True)
    assert client.post("/gradio_api/call/translate", content=b"[" * 200_000).status_code == 200


def test_uploads_are_off():
    refused = client_for(Limits()).post("/gradio_api/upload", content=b"file")
    assert refused.status_code == 403 and "Uploads are off" in refused.json()["error"]


def test_a_flooding_client_is_told_to_slow_down_and_others_are_not():
    client = client_for(Limits(api_rate=0.001, api_burst=5, client_header="x-forwarded-for", refusal_delay=0))
    flood = [client.post("/gradio_api/queue/join", headers={"x-forwarded-for": "10.0.0.1"}).status_code
             for _ in range(8)]
    assert flood == [200] * 5 + [429] * 3
    refused = client.post("/gradio_api/queue/join", headers={"x-forwarded-for": "10.9.9.9, 10.0.0.1"})
    assert "slow down" in refused.json()["error"] and refused.headers["retry-after"] == "1"
    assert client.post("/gradio_api/queue/join", headers={"x-forwarded-for": "10.0.0.2"}).status_code == 200
    # what does not start work is never limited
    assert client.get("/gradio_api/heartbeat/x", headers={"x-forwarded-for": "10.0.0.1"}).status_code == 200


@pytest.mark.parametrize("header, visitor", [
    ("8.8.8.8", "8.8.8.8"),
    ("1.1.1.1, 8.8.8.8", "8.8.8.8"),  # what the client wrote, then what the proxy saw
    ("1.1.1.1, 8.8.8.8, 10.16.3.80", "8.8.8.8"),  # ... then a proxy inside the host's network
    ("1.2.3.4, 8.8.4.4, 100.64.0.7", "8.8.4.4"),  # carrier-grade NAT is not public either
    ("10.0.0.1, 8.8.8.8:4431, 172.16.0.2", "8.8.8.8"),
    ("junk, [2001:4860::8888]:443, ::1", "2001:4860::8888"),
    ("8.8.8.8, unknown", "8.8.8.8"),  # what does not parse is no proxy's
    ("10.0.0.1, 10.9.9.9", "10.9.9.9"),  # every entry private (a school's proxy): the one that proxy wrote
    (" , junk", None),
])
def test_the_visitor_is_the_address_the_proxy_saw_not_what_the_client_wrote(header, visitor):
    assert guard.forwarded_client(header) == visitor


def test_a_script_rotating_the_forwarded_header_is_still_one_visitor():
    """The first entry used to be trusted, so a new made-up address each call dodged the limits (review of
    2026-11-29); the proxy appends the address it saw, and that one is counted."""
    client = client_for(Limits(api_rate=0.001, api_burst=2, client_header="x-forwarded-for", refusal_delay=0))
    codes = [client.post("/gradio_api/call/translate", headers={"x-forwarded-for": f"9.9.9.{i}, 8.8.8.8"}).status_code
             for i in range(4)]
    assert codes == [200, 200, 429, 429]
    assert client.post("/gradio_api/call/translate", headers={"x-forwarded-for": "9.9.9.9, 8.8.4.4"}).status_code == 200


def test_a_script_inventing_a_session_per_call_is_held_to_new_sessions_rate():
    """A made-up session_hash each call turned the API's limit into the address's (review of 2026-11-29)."""
    client = client_for(Limits(new_session_burst=3, new_session_rate=0.001, refusal_delay=0))

    def call(session: str):
        body = json.dumps({"data": [], "session_hash": session})
        return client.post("/gradio_api/queue/join", content=body).status_code

    assert [call(f"made-up-{i}") for i in range(5)] == [200, 200, 200, 429, 429]
    assert [call("made-up-0") for _ in range(3)] == [200] * 3  # a session it has seen goes on as before


def test_the_address_header_is_trusted_only_when_configured():
    client = client_for(Limits(api_rate=0.001, api_burst=2, refusal_delay=0))  # no header: one address
    codes = [client.post("/gradio_api/call/translate", headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code
             for i in range(3)]
    assert codes == [200, 200, 429]


def test_a_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5  # one token back
    assert [buckets.take("a") for _ in range(2)] == [True, False]
    now[0] = 100.0  # never more than the burst
    assert sum(buckets.take("a") for _ in range(10)) == 3


def test_limits_from_the_environment():
    limits = Limits.from_env({"S2S_RATE": "5", "S2S_BURST": "7", "S2S_MAX_BODY_BYTES": "2048"})
    assert (limits.rate, limits.burst, limits.max_body_bytes, limits.client_header) == (5.0, 7, 2048, None)
    assert Limits.from_env({"SPACE_ID": "org/space"}).client_header == "x-forwarded-for"
    hall = Limits.from_env({"S2S_ADDRESS_RATE": "400", "S2S_ADDRESS_BURST": "1000", "S2S_NEW_SESSION_RATE": "5",
                            "S2S_NEW_SESSION_BURST": "400"})  # a class behind one NAT
    assert (hall.address_rate, hall.address_burst, hall.new_session_rate, hall.new_session_burst) == (400.0, 1000,
                                                                                                      5.0, 400)


def test_a_refusal_waits_so_that_retrying_at_once_costs_nothing():
    client = client_for(Limits(api_rate=0.001, api_burst=1, refusal_delay=0.3))
    assert client.post("/gradio_api/call/translate").status_code == 200
    started = time.perf_counter()
    assert client.post("/gradio_api/call/translate").status_code == 429
    assert time.perf_counter() - started >= 0.3


def test_an_address_that_keeps_being_refused_waits_longer_for_each_refusal():
    limits = Limits(api_rate=0.001, api_burst=1, refusal_delay=0.05, refusals_rate=0.001, refusals_burst=2,
                    persistent_factor=8, client_header="x-forwarded-for")
    client = client_for(limits)
    flooder, other = {"x-forwarded-for": "10.6.6.6"}, {"x-forwarded-for": "10.7.7.7"}
    assert client.post("/gradio_api/call/translate", headers=flooder).status_code == 200
    waits = []
    for _ in range(4):
        started = time.perf_counter()
        assert client.post("/gradio_api/call/translate", headers=flooder).status_code == 429
        waits.append(time.perf_counter() - started)
    assert all(0.05 <= w < 0.3 for w in waits[:2]), waits  # the first refusals: the usual delay
    assert all(w >= 0.4 for w in waits[2:]), waits  # then 8 times as long
    assert client.post("/gradio_api/call/translate", headers=other).status_code == 200  # others are not held


def test_held_refusals_come_back_spread_out_not_as_one_wave():
    """A flood refused all at once came back all at once: each wave of ~150 answers held the event loop for a few
    hundred ms, and the class's p95 tripled while the flood's total cost was a few per cent of a CPU."""
    guard = Guard(None, Limits(refusal_delay=1.0, refusals_rate=0.001, refusals_burst=1, persistent_factor=10))
    guard.refusal_delay("10.6.6.6")  # the first refusal: the usual delay; every later one is held
    held = [guard.refusal_delay("10.6.6.6") for _ in range(150)]
    assert all(10.0 <= delay <= 10.0 * (1 + PERSISTENT_SPREAD) for delay in held)  # never less than promised
    assert max(held) - min(held) > 2.5  # spread over seconds: 150 draws from a 5 s range (fails with no spread)


class FakeQueue:
    def __init__(self):
        self.sessions, self.events = {}, set()

    def waiting(self, session):
        return self.sessions.get(session, 0)

    def pending(self, event_id):
        return event_id in self.events


async def join(request):
    """gradio's answer to a queued request: the new event's id."""
    request.app.state.ids.append(1)
    return JSONResponse({"event_id": f"e{len(request.app.state.ids)}"})


def queue_client(queue: FakeQueue, **limits) -> TestClient:
    app = Starlette(routes=[Route("/gradio_api/{rest:path}", join, methods=["POST"])])
    app.state.ids = []
    return TestClient(Guard(app, Limits(refusal_delay=0, client_header="x-forwarded-for", **limits), queue=queue))


def test_a_visitor_with_too_many_requests_waiting_is_told_to_wait():
    queue = FakeQueue()
    client = queue_client(queue, max_in_flight=3, api_in_flight=3)
    queue.sessions = {"page-1": 3, "page-2": 2}
    busy = client.post("/gradio_api/queue/join", json={"data": [], "session_hash": "page-1"})
    assert busy.status_code == 429 and "3 requests waiting" in busy.json()["error"]
    assert client.post("/gradio_api/queue/join", json={"data": [], "session_hash": "page-2"}).status_code == 200
    # API calls without a session: the guard notes their event ids under the caller's address
    api = {"x-forwarded-for": "10.0.0.7"}
    ids = [client.post("/gradio_api/call/translate", json={"data": []}, headers=api).json()["event_id"]
           for _ in range(3)]
    queue.events = set(ids)  # all three still waiting
    assert client.post("/gradio_api/call/translate", json={"data": []}, headers=api).status_code == 429
    assert client.post("/gradio_api/call/translate", json={"data": []},
                       headers={"x-forwarded-for": "10.0.0.8"}).status_code == 200  # another address
    queue.events = {ids[0]}  # two answered
    assert client.post("/gradio_api/call/translate", json={"data": []}, headers=api).status_code == 200


def test_a_script_without_a_session_has_fewer_requests_in_flight_than_a_page():
    """A flood's first burst of session-less calls, let in 8 at once, kept both CPUs decoding for it while the
    class waited (`python -m bench.app --clients 100 --flood`): a script has 2 in flight, a page still 8."""
    queue = FakeQueue()
    client = queue_client(queue)
    queue.sessions = {"page": 7}
    assert client.post("/gradio_api/queue/join", json={"data": [], "session_hash": "page"}).status_code == 200
    script = {"x-forwarded-for": "10.0.0.9"}
    ids = [client.post("/gradio_api/call/translate", json={"data": []}, headers=script).json()["event_id"]
           for _ in range(2)]
    queue.events = set(ids)
    refused = client.post("/gradio_api/call/translate", json={"data": []}, headers=script)
    assert refused.status_code == 429 and "2 requests waiting" in refused.json()["error"]


def test_a_class_behind_one_address_is_many_visitors():
    client = queue_client(FakeQueue(), rate=0.001, burst=2, address_rate=0.001, address_burst=100)
    one_address = {"x-forwarded-for": "10.9.9.9"}
    codes = [client.post("/gradio_api/queue/join", json={"data": [], "session_hash": f"student-{i}"},
                         headers=one_address).status_code for i in range(50)]
    assert codes == [200] * 50  # each page its own bucket
    flood = [client.post("/gradio_api/queue/join", json={"data": [], "session_hash": "one"},
                         headers={"x-forwarded-for": "10.1.1.1"}).status_code for _ in range(3)]
    assert flood == [200, 200, 429]
    invented = [client.post("/gradio_api/queue/join", json={"data": [], "session_hash": f"x{i}"},
                            headers=one_address).status_code for i in range(60)]
    assert invented.count(429) == 10  # the address's own limit: 100 in all from 10.9.9.9


@pytest.mark.parametrize(("data", "got"), [
    (["3 March 2021"], "got 1 value."), ([], "got 0 values."), (["a"] * 8, "got 8 values."),
    ("3 March 2021", "got no list of values."), (None, "got no list of values."),
])
def test_a_call_with_the_wrong_number_of_values_is_refused_in_one_line(data, got):
    """gradio answered too few values with {"error": null} and a traceback in the log, and took too many as if
    the extra were not there (issue 21). The guard knows each public endpoint's parameters."""
    names = ("text", "checkpoint", "mask", "teacher_forcing", "reference", "seed", "beam_size")
    app = Starlette(routes=[Route("/gradio_api/{rest:path}", echo, methods=["GET", "POST"])])
    client = TestClient(Guard(app, Limits(), endpoints={"/gradio_api/call/translate": names}))
    refused = client.post("/gradio_api/call/translate", json={"data": data})
    assert refused.status_code == 422
    assert refused.json()["error"] == f"translate takes 7 values, in this order: {', '.join(names)}; {got}"
    assert "\n" not in refused.json()["error"]
    seven = client.post("/gradio_api/call/translate", json={"data": ["3 March 2021", "dates", "causal", 0, "", 0, 1]})
    assert seven.status_code == 200  # the right number goes on, whatever the values (the endpoint checks those)
    assert client.post("/gradio_api/call/other", json={"data": []}).status_code == 200  # not a public endpoint
