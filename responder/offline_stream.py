"""Offline streamed answers: the timetable of a streamed echo, stream hooks included, and its playback.

The answer is split into word-ish tokens, one chunk each, chunk i at i/rate seconds after the first; the final
reply follows the last chunk at once. The stream hooks (offline.STREAM_HOOKS) bend that timetable:

- ``!stall N``: the first half of the chunks, a pause of N seconds, then the rest and the final reply;
- ``!partial``: the first half of the chunks, then nothing at all (no final reply);
- ``!streamfail``: the first half, then the final reply ``Error: simulated model failure mid-stream``;
- ``!dupchunks``: every chunk published twice;
- ``!shufflechunks``: each adjacent pair published swapped (1, 0, 3, 2, ...) at the pair's later time, each
  chunk with its true seq;
- ``!dropchunks``: every third chunk (seq 2, 5, 8, ...) never published; the final reply is still whole.

Playback keeps one scheduler entry per stream (each step schedules the next), so a thousand streams in flight
cost a thousand heap entries whatever their length, and no thread ever waits on one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .offline import ChatAnswer
from .scheduler import DelayScheduler
from .streams import ActiveStream

log = logging.getLogger(__name__)

STREAM_FAILURE = "Error: simulated model failure mid-stream"
_TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Step:
    """What goes out `at` seconds after the first chunk's time: chunk `seq`, or the final reply when seq is None."""

    at: float
    seq: int | None
    text: str


def tokens(text: str) -> list[str]:
    """Word-ish pieces, each with its trailing white space: joined, they are the text again."""
    return _TOKEN.findall(text)


def plan(answer: ChatAnswer, rate: float) -> list[Step]:
    """The timetable of a streamed offline answer at `rate` tokens per second, in the order of publishing."""
    assert answer.text is not None and rate > 0
    chunks = [Step(i / rate, i, token) for i, token in enumerate(tokens(answer.text))]
    half = len(chunks) // 2
    end = chunks[-1].at if chunks else 0.0
    hook = answer.stream_hook
    if hook == "!stall":
        later = [Step(step.at + answer.stall, step.seq, step.text) for step in chunks[half:]]
        return chunks[:half] + later + [Step(end + answer.stall, None, answer.text)]
    if hook == "!partial":
        return chunks[:half]
    if hook == "!streamfail":
        return chunks[:half] + [Step(half / rate, None, STREAM_FAILURE)]
    if hook == "!dupchunks":
        chunks = [step for step in chunks for _ in range(2)]
    elif hook == "!shufflechunks":
        pairs = (chunks[i : i + 2] for i in range(0, len(chunks), 2))
        chunks = [Step(pair[-1].at, step.seq, step.text) for pair in pairs for step in reversed(pair)]
    elif hook == "!dropchunks":
        chunks = [step for step in chunks if step.seq % 3 != 2]
    return chunks + [Step(end, None, answer.text)]


class StreamPlayer:
    """Publishes a plan on its stream at start + each step's time, from the scheduler's thread."""

    def __init__(self, scheduler: DelayScheduler, stream: ActiveStream, steps: list[Step]):
        self.scheduler = scheduler
        self.stream = stream
        self.steps = steps
        self._next = 0
        self._start = 0.0

    def start(self, delay: float) -> bool:
        """Play the plan beginning `delay` seconds from now; False when the scheduler refuses (full)."""
        self._start = self.scheduler.now() + delay
        if not self.steps:
            self.stream.finish(None)
            return True
        return self._schedule()

    def _schedule(self) -> bool:
        return self.scheduler.call_at(self._start + self.steps[self._next].at, self._play)

    def _play(self) -> None:
        # Everything due goes out now, in plan order: steps that share a time (a duplicate, a swapped pair, the
        # final reply after the last chunk), and any that a busy scheduler thread made late.
        due = self.scheduler.now() - self._start
        played = 0  # the step this call was scheduled for is due, whatever the rounding of `due`
        while self._next < len(self.steps) and (not played or self.steps[self._next].at <= due):
            played += 1
            step = self.steps[self._next]
            self._next += 1
            if step.seq is None:
                self.stream.finish(step.text)
                return
            if not self.stream.chunk(step.seq, step.text):
                return  # cancelled: nothing more of this answer goes out
        if self._next == len(self.steps):
            self.stream.finish(None)  # !partial: the stream just ends
        elif not self._schedule():
            # The preview is not worth losing the answer for: skip to the final reply.
            log.warning("too many delayed replies pending; sending a streamed answer's final reply early")
            final = next((step.text for step in self.steps[self._next :] if step.seq is None), None)
            self.stream.finish(final)
