"""Greedy decodes that arrive together run together: one batch per checkpoint and mask.

A class sends many short requests at once. Decoding one date alone costs mostly the dispatch of tiny
tensor operations at every step, which a batch pays once for all its texts (`python -m bench.app
--clients 100` measures what it does to serving; docs/speed.md has the figures).
So a request that finds the model busy leaves its text here, and the next request to run the model
takes every waiting text of its own checkpoint and mask into one `Translator.translate_batch`.

Nobody waits for a batch to fill: on an idle server a request is decoded at once, alone. Nobody
works for others for long either: a request that ran a batch containing its own text hands the
next batch to a request still waiting (whose text is in that batch), then returns.

What a visitor gets is what the same request gets alone: the same output, pieces and steps, and
the same numbers up to float32 rounding (a product over a batch may round its last bit
differently; tests/web/test_batching.py checks ≤ 1e-6). Packing keeps other texts' padding out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from ..translator import Translation

MAX_BATCH = 32  # texts in one decode: a batch costs about as long as its longest text, and its memory grows with it

Key = Hashable  # what texts must share to be decoded in one batch: (the model's translator, mask) in runs.py
DecodeBatch = Callable[[Key, list[str]], list[Translation]]
DecodeOne = Callable[[Key, str], Translation]


@dataclass
class _Request:
    key: Key
    text: str
    ready: threading.Event = field(default_factory=threading.Event)  # set when answered, or when it is to lead
    result: Translation | None = None
    error: BaseException | None = None
    lead: bool = False  # handed the next batch: this request's thread runs it

    @property
    def answered(self) -> bool:
        return self.result is not None or self.error is not None


class Batcher:
    """Collects concurrent greedy decodes and runs each group of the same key as one batch.

    `decode_batch(key, texts)` decodes texts that share a key; `decode_one(key, text)` decodes one text
    alone, used when a batch fails, so that each text gets its own answer or its own error.
    """

    def __init__(self, decode_batch: DecodeBatch, decode_one: DecodeOne, max_batch: int = MAX_BATCH):
        self._decode_batch, self._decode_one, self.max_batch = decode_batch, decode_one, max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._running = False  # a thread is running a batch; the others wait to be answered or to lead
        self.batches = 0  # how many batches ran, and how many texts in all (for tests and benchmarks)
        self.texts = 0

    def translate(self, key: Key, text: str) -> Translation:
        request = _Request(key, text)
        with self._lock:
            self._waiting.append(request)
            request.lead = not self._running
            self._running = True
        if not request.lead:
            request.ready.wait()
        if not request.answered:  # led: run the batch this request is in, then hand over
            try:
                self._run(self._take(request))
            finally:
                self._hand_over()
        if request.error is not None:
            raise request.error
        return request.result

    def _take(self, leader: _Request) -> list[_Request]:
        """The leader and up to max_batch - 1 other waiting requests of its key, oldest first."""
        with self._lock:
            batch = [leader] + [r for r in self._waiting if r.key == leader.key and r is not leader]
            batch = batch[: self.max_batch]
            taken = {id(r) for r in batch}
            self._waiting = [r for r in self._waiting if id(r) not in taken]
        return batch

    def _run(self, batch: list[_Request]) -> None:
        key = batch[0].key
        try:
            results = self._decode_batch(key, [r.text for r in batch])
            for request, result in zip(batch, results, strict=True):
                request.result = result
        except Exception:  # one text's error must not be everyone's: each is decoded alone, for its own answer
            for request in batch:
                try:
                    request.result = self._decode_one(key, request.text)
                except Exception as error:
                    request.error = error
        with self._lock:
            self.batches += 1
            self.texts += len(batch)
        for request in batch[1:]:
            request.ready.set()

    def _hand_over(self) -> None:
        """Wake the oldest waiting request to lead the next batch, or mark the model free."""
        with self._lock:
            if not self._waiting:
                self._running = False
                return
            nxt = self._waiting[0]
            nxt.lead = True
        nxt.ready.set()
