"""A replica's configuration: the per-deployment limits, and the checks they imply.

The fixed limits (message sizes, buffers, memories) are in `consensus.constants`; these are
the ones a deployment chooses (genesis `consensus` parameters), checked once when a replica
is built: a configuration that cannot work is the operator's bug, an AssertionError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consensus.block import Block
from consensus.constants import BLOCK_OVERHEAD_BYTES
from consensus.quorum import Committee
from consensus.view_change import check_block_origin


@dataclass(frozen=True)
class ReplicaConfig:
    chain: str
    operators: tuple[tuple[str, bytes], ...]  # (name, ed25519 public key) in genesis order
    me: str
    checkpoint_interval: int = 16  # K
    watermark_window: int = 64  # L (h < seq <= h + L)
    max_block_txs: int = 2000
    max_block_bytes: int = 4 * 1024 * 1024
    max_block_delay_ms: int = 50
    view_timeout_ms: int = 2000
    max_clock_skew_ms: int = 5000
    max_pending: int = 100_000
    max_pipeline: int = 8
    quorum_override: int | None = None  # TEST-ONLY: lets the simulator prove its checker bites
    # The host's admission check of one transaction of a proposed block: (body, sig, block
    # time) -> admissible (it decodes, is for this chain, is validly signed, has not expired
    # at the block's time). A PRE-PREPARE carrying a transaction that fails it is dropped
    # (`dropped_bad_tx`): an honest replica never prepares a block whose execution would
    # depend on who had seen what. Pure over its arguments; None checks nothing.
    admit_tx: Callable[[bytes, bytes, int], bool] | None = None

    def check(self) -> None:
        """Assert the configuration is usable (a bad config is the operator's bug)."""
        assert self.checkpoint_interval >= 1
        assert self.watermark_window >= self.checkpoint_interval, "L >= K, or the log stalls"
        assert self.watermark_window % self.checkpoint_interval == 0, "L is a multiple of K"
        assert 1 <= self.max_pipeline <= self.watermark_window
        assert self.max_block_txs >= 1
        assert self.max_block_bytes > BLOCK_OVERHEAD_BYTES
        assert self.max_block_delay_ms >= 0 and self.view_timeout_ms > 0
        assert self.max_clock_skew_ms >= 0 and self.max_pending >= 1

    def is_full(self, block: Block) -> bool:
        """The block reached a batch limit: its primary had more pending than one block."""
        return len(block.txs) >= self.max_block_txs or \
            len(block.encode()) * 4 >= self.max_block_bytes * 3

    def block_refusal(self, block: Block, seq: int, view: int, committee: Committee,
                      now_ms: int) -> str | None:
        """Why a proposed block is refused by the checks that need no chain context (a
        re-proposal keeps an older view), as a `dropped_` reason; None if it passes."""
        if check_block_origin(block, seq, view, committee) is not None:
            return "bad_block"
        if len(block.txs) > self.max_block_txs:
            return "block_too_large"
        if len(block.encode()) > self.max_block_bytes:
            return "block_too_large"
        if block.header.time > now_ms + self.max_clock_skew_ms:
            return "block_time_in_future"
        admit = self.admit_tx
        if admit is not None and not all(admit(body, sig, block.header.time)
                                         for body, sig in block.txs):
            return "bad_tx"
        return None
