"""Pure bookkeeping of one streamed answer: chunks assembled in `seq` order, and what is still to be relayed.

Chunks travel at QoS 0: any may be lost, duplicated or reordered. Only text that follows, chunk by chunk, from
seq 0 is ever relayed, so a client never shows words in the wrong order; after a missing chunk the preview stops
until the final reply (which is the truth, and replaces it) arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_HELD_CHUNKS = 256  # early chunks held while an earlier one is missing
MAX_STREAM_CHARS = 256 * 1024  # a stream longer than this stops being relayed (the final reply still counts)


@dataclass
class StreamAssembler:
    next_seq: int = 0
    text: str = ""  # the answer so far, in order
    relayed: int = 0  # how much of `text` the clients were sent
    held: dict[int, str] = field(default_factory=dict)
    chunks: int = 0  # chunks that added text
    dropped: int = 0  # duplicates, chunks past the bounds

    def offer(self, seq: int, delta: str) -> bool:
        """Take one chunk; True when `text` grew."""
        if seq < self.next_seq or seq in self.held:
            self.dropped += 1
            return False
        if seq > self.next_seq:
            if len(self.held) >= MAX_HELD_CHUNKS:
                self.dropped += 1
                return False
            self.held[seq] = delta
            return False
        grown = [delta]
        self.next_seq += 1
        while self.next_seq in self.held:
            grown.append(self.held.pop(self.next_seq))
            self.next_seq += 1
        added = "".join(grown)
        if len(self.text) + len(added) > MAX_STREAM_CHARS:
            self.dropped += 1
            return False
        self.text += added
        self.chunks += len(grown)
        return bool(added)

    def unrelayed(self) -> tuple[int, str]:
        """(offset, text) not yet relayed, and mark it relayed."""
        offset, self.relayed = self.relayed, len(self.text)
        return offset, self.text[offset:]
