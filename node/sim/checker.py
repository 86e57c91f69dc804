"""The simulator's checker: safety on every step, liveness at the end.

Safety (only honest nodes are judged; a Byzantine node may do anything):
- agreement: no two honest nodes commit different blocks at one height;
- execution: what executed at one height is the same on every honest node, not only the
  header: the same transactions with the same signatures, and the same receipts (`executed`),
  and the same app hash (`app_hash`);
- certificates: every block an honest node applies carries a valid commit certificate;
- transactions: every transaction of a block an honest node applies is validly signed by its
  sender (honest replicas check that before they PREPARE, so a committed block never
  carries one that is not, however its body reached the node), and each is applied once
  (no tx id in the receipts of two blocks);
- money: the sum of cash balances equals the cash supply in state, and the supply equals
  what successful mints minus burns added up to;
- votes: an honest node never signs two different digests for one (kind, view, seq), across
  restarts too, and persists each vote before it sends it.

Liveness (judged by the simulation at the end, not here): once every fault has healed, with at
most f Byzantine operators, every honest node is up and has committed every client
transaction within `liveness_bound_ms` of the last heal. Judged per honest node: one honest
node left behind (kept in the dark by a Byzantine peer, stuck on a body nobody sends) fails
the run, named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consensus import codec
from consensus.block import check_certificate
from node.admission.tx import TxError, decode_body
from node.ledger.executor import AppliedBlock

MAX_VIOLATIONS = 50  # a broken run reports its first few problems, not thousands


@dataclass(frozen=True, slots=True)
class Violation:
    time_ms: int
    kind: str  # agreement, app_hash, certificate, tx_signature, tx_twice, supply, ...
    node: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"time_ms": self.time_ms, "kind": self.kind, "node": self.node,
                "detail": self.detail}

    def __str__(self) -> str:
        return f"t={self.time_ms}ms {self.kind} at {self.node}: {self.detail}"


@dataclass
class NodeRecord:
    tx_heights: dict[bytes, int] = field(default_factory=dict)
    minted: int = 0


class Checker:
    def __init__(self, chain: str, operator_keys: dict[str, bytes], honest: tuple[str, ...],
                 check_certificates: bool = True) -> None:
        self.chain = chain
        self.operator_keys = operator_keys
        self.honest = frozenset(honest)
        self.check_certificates = check_certificates
        self.violations: list[Violation] = []
        self.block_hashes: dict[int, tuple[bytes, str]] = {}  # height -> (hash, first node)
        self.app_hashes: dict[int, tuple[bytes, str]] = {}
        self.executed: dict[int, tuple[bytes, str]] = {}  # height -> (what ran, first node)
        self.signed_txs: set[bytes] = set()  # sha256(body || sig) of verified transactions
        self.records: dict[str, NodeRecord] = {name: NodeRecord() for name in sorted(honest)}
        self.votes: dict[tuple[str, str, int, int], bytes] = {}  # (node, kind, view, seq)
        self.steps = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def fail(self, time_ms: int, kind: str, node: str, detail: str) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(Violation(time_ms, kind, node, detail))

    # -- per step ------------------------------------------------------------------------------

    def on_applied(self, time_ms: int, node: str, applied: AppliedBlock,
                   state: Any) -> None:
        """`node` applied a block (by consensus or state transfer); `state` reads its state."""
        self.steps += 1
        if node not in self.honest:
            return
        block = applied.block
        height = block.height
        known = self.block_hashes.get(height)
        if known is None:
            self.block_hashes[height] = (block.hash, node)
        elif known[0] != block.hash:
            self.fail(time_ms, "agreement", node, f"height {height}: block "
                      f"{block.hash.hex()[:12]} but {known[1]} committed {known[0].hex()[:12]}")
        known = self.app_hashes.get(height)
        if known is None:
            self.app_hashes[height] = (applied.app_hash, node)
        elif known[0] != applied.app_hash:
            self.fail(time_ms, "app_hash", node, f"height {height}: app hash "
                      f"{applied.app_hash.hex()[:12]} but {known[1]} has {known[0].hex()[:12]}")
        executed = _what_executed(applied)
        known = self.executed.get(height)
        if known is None:
            self.executed[height] = (executed, node)
        elif known[0] != executed:
            self.fail(time_ms, "executed", node, f"height {height}: block {block.hash.hex()[:12]}"
                      f" executed other transactions, signatures or receipts than at {known[1]}")
        if self.check_certificates:
            problem = check_certificate(applied.certificate, self.chain, self.operator_keys,
                                        block.hash, height)
            if problem is not None:
                self.fail(time_ms, "certificate", node, f"height {height}: {problem}")
        for body, sig in block.txs:
            self._check_signed(time_ms, node, height, body, sig)
        record = self.records[node]
        for tx, receipt in zip(applied.txs, applied.receipts, strict=True):
            earlier = record.tx_heights.get(tx.tx_id)
            if earlier is not None:
                self.fail(time_ms, "tx_twice", node, f"tx {tx.tx_id.hex()[:12]} applied at "
                          f"heights {earlier} and {height}")
            record.tx_heights[tx.tx_id] = height
            if receipt.ok and tx.contract == "cash" and tx.method in ("mint", "burn"):
                amount = int(tx.args.get("amount", 0))
                record.minted += amount if tx.method == "mint" else -amount
        self._check_supply(time_ms, node, state, record)

    def _check_signed(self, time_ms: int, node: str, height: int, body: bytes,
                      sig: bytes) -> None:
        """A transaction of a committed block is validly signed by its sender."""
        key = codec.sha256(body + sig)
        if key in self.signed_txs:
            return
        try:
            signed = decode_body(body, sig).is_signed()
        except TxError:
            signed = False
        if not signed:
            self.fail(time_ms, "tx_signature", node, f"tx {codec.sha256(body).hex()[:12]} at "
                      f"height {height} is not signed by its sender")
            return
        self.signed_txs.add(key)

    def _check_supply(self, time_ms: int, node: str, state: Any, record: NodeRecord) -> None:
        raw = state.get("cash/supply")
        supply = 0 if raw is None else int(codec.unpack(raw))
        balances = sum(int(codec.unpack(value)) for _, value in state.range("cash/bal/"))
        if balances != supply:
            self.fail(time_ms, "supply", node, f"cash balances sum to {balances}, supply is "
                      f"{supply}")
        if supply != record.minted:
            self.fail(time_ms, "supply", node, f"cash supply {supply} but receipts minted "
                      f"{record.minted}")

    def on_vote_sent(self, time_ms: int, node: str, kind: str, view: int, seq: int,
                     digest: bytes) -> None:
        if node not in self.honest:
            return
        key = (node, kind, view, seq)
        known = self.votes.get(key)
        if known is None:
            self.votes[key] = digest
        elif known != digest:
            self.fail(time_ms, "double_vote", node, f"{kind} view {view} seq {seq}: signed "
                      f"{known.hex()[:12]} and {digest.hex()[:12]}")

    def on_unpersisted_send(self, time_ms: int, node: str, detail: str) -> None:
        if node in self.honest:
            self.fail(time_ms, "persist_before_send", node, detail)

    # -- at the end ----------------------------------------------------------------------------

    def check_chains(self, time_ms: int, chains: dict[str, list[bytes]]) -> None:
        """`chains[node]` = block hashes from height 1 up, read back from each honest store."""
        for node in sorted(chains):
            for index, block_hash in enumerate(chains[node]):
                known = self.block_hashes.get(index + 1)
                if known is not None and known[0] != block_hash:
                    self.fail(time_ms, "agreement", node, f"stored block {index + 1} differs "
                              f"from {known[1]}'s")


def _what_executed(applied: AppliedBlock) -> bytes:
    """A digest of what a block's execution was: every transaction as carried (body and
    signature, in order) and every receipt."""
    return codec.sha256(codec.pack([[[body, sig] for body, sig in applied.block.txs],
                                    [receipt.encode() for receipt in applied.receipts]]))
