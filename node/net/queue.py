"""One peer's outbound frames: a FIFO bounded in frames and in bytes.

A peer that stops reading (or a link that is down) must not let this node's memory grow
without end: every frame sent to it waits here until the link's writer takes it. A bound in
frames alone left room for 10,000 frames of up to 16 MiB each; so the queue refuses a frame
that would take it over either bound, and the caller counts the drop (consensus retransmits
what matters and state transfer fetches the rest). One writer task awaits `get`.
"""

from __future__ import annotations

import asyncio
from collections import deque

MAX_QUEUE_FRAMES = 10_000
# Small frames (votes, gossip batches): a few seconds of a busy pipeline to one peer.
MAX_QUEUE_BYTES = 64 * 1024 * 1024
# Big frames (blocks, bodies, state-transfer answers): four frames at the 16 MiB frame limit,
# or a pipeline of eight full 4 MiB blocks and their answers; with 127 peers at most 8 GiB
# for a node whose every link is stalled, 256 MiB for n = 4.


class FrameQueue:
    __slots__ = ("_bytes", "_frames", "_max_bytes", "_max_frames", "_ready")

    def __init__(self, max_frames: int = MAX_QUEUE_FRAMES,
                 max_bytes: int = MAX_QUEUE_BYTES) -> None:
        assert max_frames >= 1 and max_bytes >= 1
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, frame: bytes) -> bool:
        """Queue `frame` unless that takes the queue over a bound; whether it was queued."""
        if len(self._frames) >= self._max_frames or self._bytes + len(frame) > self._max_bytes:
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._ready.set()
        return True

    async def get(self) -> bytes:
        """The oldest frame, once there is one."""
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        frame = self._frames.popleft()
        self._bytes -= len(frame)
        return frame
