"""State transfer, the catching-up side: which peer to ask for which blocks, and what to make of
the answer. Sans-I/O, and the one copy shared by the node (`node.app`, over p2p with asyncio
timeouts) and the simulator (`node.sim.host`, over the virtual network and clock), so that the
simulator exercises the node's own rules.

How it works. A fetch has a target height, raised by `start`. The host asks `next_request` for
the next (peer, start, stop) and sends it; the peers that report the highest heights are asked
first (`node.net.sync`), then every other operator, in turn. The answer goes to `take_reply`, which
never raises and returns the blocks to apply, in order:
- a reply from a peer that was not asked, or when no request is out, is ignored (None), so a
  peer (or an observer) cannot push blocks or fill a queue unasked;
- a reply that is not a list of [block bytes, certificate bytes] pairs, a block whose commit
  certificate does not carry a quorum of valid genesis operators' votes, or a block that does
  not extend the chain, counts against that peer (`faults`); the verified blocks before it are
  still applied, and the fetch moves on to the next peer;
- no answer in time (`on_timeout`) counts as a failure too.
After MAX_ROUNDS failures per peer in a row the fetch gives up; `finish` then tells the host
whether it fell short of the target, so the height sync can forget the claims that were not
made good. One peer's word is enough to try, and no peer's word is enough to apply a block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus.block import Block, CommitCertificate
from node.net.transfer import FETCH_BATCH, verify_block

MAX_ROUNDS = 3  # consecutive failures per peer before a fetch gives up


@dataclass(frozen=True)
class FetchRequest:
    peer: str
    start: int
    stop: int
    token: int  # identifies this request for its timeout


class BlockFetch:
    def __init__(self, chain: str, operator_keys: dict[str, bytes], peers: list[str]) -> None:
        self.chain = chain
        self.operator_keys = operator_keys
        self.peers = list(peers)
        self.fetching = False
        self.target = 0
        self.turn = 0
        self.failures = 0
        self.asked: str | None = None
        self.token = 0
        self.faults: dict[str, int] = {}
        self.last_problem = ""  # what was wrong with the last answer, if anything
        self.ignored = 0

    def start(self, to_height: int) -> bool:
        """Raise the target. True when this begins a fetch: the host then asks next_request."""
        self.target = max(self.target, to_height)
        if self.fetching:
            return False
        self.fetching = True
        self.failures = 0
        self.turn = 0
        return True

    def next_request(self, height: int, ahead: list[str]) -> FetchRequest | None:
        """What to send next; None when the fetch is over (target reached, or too many
        failures): the host then calls `finish`."""
        assert self.fetching
        if height >= self.target or not self.peers or \
                self.failures >= MAX_ROUNDS * len(self.peers):
            return None
        order = [peer for peer in ahead if peer in self.peers]
        order += [peer for peer in self.peers if peer not in order]
        peer = order[self.turn % len(order)]
        self.turn += 1
        self.token += 1
        self.asked = peer
        return FetchRequest(peer, height + 1, self.target, self.token)

    def on_failed(self, token: int) -> bool:
        """The request `token` timed out or could not be sent: True if it was the one out (the
        host then asks next_request), False for a stale timer."""
        if not self.fetching or token != self.token or self.asked is None:
            return False
        self.asked = None
        self.failures += 1
        return True

    def take_reply(self, peer: str, payload: Any, height: int, last_hash: bytes
                   ) -> list[tuple[Block, CommitCertificate]] | None:
        """The verified blocks of `peer`'s answer that extend the chain at (height, last_hash),
        in order; None if no answer from `peer` was awaited."""
        if not self.fetching or peer != self.asked:
            self.ignored += 1
            return None
        self.asked = None
        self.token += 1  # the request's timer is now stale
        self.last_problem = ""
        blocks: list[tuple[Block, CommitCertificate]] = []
        problem = None
        if not isinstance(payload, list) or len(payload) > FETCH_BATCH:
            problem = "the answer is not a list of at most FETCH_BATCH blocks"
            payload = []
        for pair in payload:
            if not (isinstance(pair, list) and len(pair) == 2
                    and isinstance(pair[0], bytes) and isinstance(pair[1], bytes)):
                problem = "an item is not [block bytes, certificate bytes]"
                break
            verified = verify_block(self.chain, self.operator_keys, pair[0], pair[1])
            if isinstance(verified, str):
                problem = verified
                break
            block = verified[0]
            if block.height != height + 1 or block.header.prev_hash != last_hash:
                problem = f"block {block.height} does not extend the chain at {height}"
                break
            blocks.append(verified)
            height, last_hash = block.height, block.hash
        if problem is not None:
            self.faults[peer] = self.faults.get(peer, 0) + 1
            self.last_problem = f"{peer}: {problem}"
        self.failures = 0 if blocks else self.failures + 1
        return blocks

    def finish(self, height: int) -> bool:
        """End the fetch at `height`; True if it fell short of the target."""
        short = height < self.target
        self.fetching = False
        self.asked = None
        self.token += 1
        self.target = height
        return short
