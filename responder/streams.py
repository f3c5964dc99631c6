"""Chat answers being streamed (PROTOCOL.md "Streamed answers", "Cancel"): each one's chunk numbering, what it has
published so far, and whether it was cancelled or has ended.

Three threads touch a stream: the scheduler (offline chunks) or a pool thread (LLM chunks) publish it, and paho's
network thread cancels it. Each stream has a lock that covers "is it still open?" together with the publish, so
that no chunk and no final reply goes out once a cancel has been accepted, and the partial answer a cancel takes
is exactly what was published.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

# Bounded like every other queue of the responder; a request that finds it full is answered without chunks.
DEFAULT_MAX_STREAMS = 10_000
STREAM_SUFFIX = "/stream"
CHUNK_QOS = 0  # chunks are a preview: the final reply (QoS 1) is the truth
FINAL_QOS = 1

Publish = Callable[[str, str, int], None]  # (topic, payload, qos)


class ActiveStream:
    def __init__(
        self,
        registry: StreamRegistry,
        publish: Publish,
        *,
        request_id: str,
        session_id: str,
        message: str,
        reply_topic: str,
    ):
        self.request_id = request_id
        self.session_id = session_id
        self.message = message
        self.reply_topic = reply_topic
        self._registry = registry
        self._publish = publish
        self._lock = threading.Lock()
        self._open = True
        self._cancelled = False
        self._next_seq = 0
        # Chunks published ahead of a gap (shuffled, dropped) wait here; _prefix is what precedes the first gap.
        self._ahead: dict[int, str] = {}
        self._prefix: list[str] = []

    @property
    def cancelled(self) -> bool:
        with self._lock:
            return self._cancelled

    @property
    def partial(self) -> str:
        """The answer as far as a reader can assemble it: published chunks in seq order, up to the first gap."""
        with self._lock:
            return "".join(self._prefix)

    def chunk(self, seq: int, delta: str) -> bool:
        """Publish chunk `seq` (numbered by the caller: the offline hooks repeat and reorder); False once closed."""
        with self._lock:
            return self._chunk(seq, delta)

    def send(self, delta: str) -> bool:
        """Publish `delta` as the next chunk; False once closed (cancelled: the caller stops generating)."""
        with self._lock:
            return self._chunk(self._next_seq, delta)

    def _chunk(self, seq: int, delta: str) -> bool:
        if not self._open:
            return False
        payload = json.dumps({"requestId": self.request_id, "seq": seq, "delta": delta})
        self._publish(self.reply_topic + STREAM_SUFFIX, payload, CHUNK_QOS)
        self._record(seq, delta)
        self._next_seq = max(self._next_seq, seq + 1)
        return True

    def end(self) -> bool:
        """Close the stream for good, publishing nothing; False when it was closed (cancelled) already. After it
        no chunk goes out, so a final reply published next comes after every chunk."""
        with self._lock:
            if not self._open:
                return False
            self._open = False
        self._registry.discard(self)
        return True

    def finish(self, text: str | None) -> bool:
        """End the stream with the final reply `text` (None: with none at all); False when already cancelled."""
        if not self.end():
            return False
        if text is not None:
            self._publish(self.reply_topic, text, FINAL_QOS)
        return True

    def cancel(self) -> str | None:
        """Close the stream for good; the partial answer, or None when it had ended already."""
        with self._lock:
            if not self._open:
                return None
            self._open = False
            self._cancelled = True
            return "".join(self._prefix)

    def _record(self, seq: int, delta: str) -> None:
        if seq < len(self._prefix) or seq in self._ahead:
            return  # a duplicate
        self._ahead[seq] = delta
        while len(self._prefix) in self._ahead:
            self._prefix.append(self._ahead.pop(len(self._prefix)))


class StreamRegistry:
    """The streams in flight by requestId, so that a cancel (on paho's thread) finds the one it names."""

    def __init__(self, publish: Publish, max_streams: int = DEFAULT_MAX_STREAMS):
        self.max_streams = max_streams
        self._publish = publish
        self._streams: dict[str, ActiveStream] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._streams)

    def open(self, request_id: str, session_id: str, message: str, reply_topic: str) -> ActiveStream | None:
        """A new stream; None when the registry is full or the requestId is already streaming (a redelivered
        request): that request is answered with the final reply only."""
        with self._lock:
            if len(self._streams) >= self.max_streams or request_id in self._streams:
                return None
            stream = ActiveStream(
                self,
                self._publish,
                request_id=request_id,
                session_id=session_id,
                message=message,
                reply_topic=reply_topic,
            )
            self._streams[request_id] = stream
            return stream

    def discard(self, stream: ActiveStream) -> None:
        with self._lock:
            if self._streams.get(stream.request_id) is stream:
                del self._streams[stream.request_id]

    def cancel(self, request_id: str, session_id: str | None) -> tuple[ActiveStream, str] | None:
        """Cancel the stream of `request_id`: (the stream, its partial answer), or None when there is no such
        stream in flight. A cancel naming another session than the request's is not for this stream."""
        with self._lock:
            stream = self._streams.get(request_id)
            if stream is None or (session_id is not None and session_id != stream.session_id):
                return None
            del self._streams[request_id]
        partial = stream.cancel()
        return None if partial is None else (stream, partial)


class Coalescer:
    """Joins deltas that arrive within `window` seconds of the last one sent into one chunk: a fast model's
    tokens then cost the broker and the portal's worker one message per window rather than one per token."""

    def __init__(self, window: float):
        self.window = window
        self._pending = ""
        self._last_sent = -math.inf

    def add(self, delta: str, now: float) -> str | None:
        """The text to send now, or None while it is held (until a later delta or `flush`)."""
        self._pending += delta
        if now - self._last_sent < self.window:
            return None
        text, self._pending, self._last_sent = self._pending, "", now
        return text

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return text
