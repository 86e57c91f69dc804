"""Offline check of a block proof (`GET /v1/audit/proof`): pure functions, no node, no I/O.

A proof is the JSON answer of the proof route: `header` (decoded, hex for bytes),
`header_bytes` (hex of the canonical header), `block_hash` (hex), `certificate` (the commit
certificate's JSON form) and, optionally, `tx_ids` and `tx_sigs` (hex, block order: each
transaction's id and signature). Given only genesis, the proof holds when, in this order:

1. `header_bytes` decode to a well-formed header equal to `header`;
2. sha256(header_bytes) == block_hash;
3. the header's chain is genesis' chain id;
4. the certificate is for that height and hash and carries at least 2f+1 valid commit votes
   from distinct operators of genesis, each with its genesis key
   (`consensus.block.check_certificate`);
5. if `tx_ids` is given, `tx_sigs` is too, one per id, and the Merkle root of their leaves
   sha256(tx_id || sig) is the header's `tx_root` (so each listed transaction, with that
   signature, is proven to be in the block).

Nothing in the proof is trusted beyond what these checks establish; the operator names and
keys come from genesis, never from the proof.
"""

from __future__ import annotations

from typing import Any

from consensus import codec
from consensus.block import (
    BlockHeader,
    CommitCertificate,
    check_certificate,
    merkle_root,
    tx_leaf,
)
from genesis.schema import Genesis
from node.admission.tx import to_json


def verify_proof(genesis: Genesis, proof: Any) -> tuple[bool, str]:
    """(True, summary) if `proof` shows that 2f+1 genesis operators committed the block;
    (False, the first reason it does not) otherwise."""
    try:
        header_bytes, block_hash, cert = _parse(proof)
    except ValueError as error:
        return False, f"malformed proof: {error}"
    try:
        header = BlockHeader.decode(header_bytes)
    except (ValueError, TypeError, codec.EncodingError) as error:
        return False, f"header_bytes do not decode to a block header: {error}"
    if header.encode() != header_bytes:
        return False, "header_bytes are not the canonical encoding of a header"
    if to_json(header.to_map()) != proof.get("header"):
        return False, "header does not match header_bytes"
    if codec.sha256(header_bytes) != block_hash:
        return False, "sha256(header_bytes) is not block_hash"
    if header.chain != genesis.chain_id:
        return False, (f"the block is on chain {header.chain!r}, not genesis' chain "
                       f"{genesis.chain_id!r}")
    reason = check_certificate(cert, genesis.chain_id, genesis.operator_keys(), block_hash,
                               header.height)
    if reason is not None:
        return False, f"certificate: {reason}"
    tx_ids, tx_sigs = proof.get("tx_ids"), proof.get("tx_sigs")
    if tx_ids is not None:
        try:
            ids = [bytes.fromhex(t) for t in tx_ids]
            sigs = [bytes.fromhex(s) for s in tx_sigs]
        except (TypeError, ValueError):
            return False, "malformed proof: tx_ids and tx_sigs are lists of hex strings"
        if len(ids) != len(sigs) or any(len(i) != 32 for i in ids) \
                or any(len(s) != 64 for s in sigs):
            return False, "malformed proof: one 32-byte tx_id and one 64-byte sig per transaction"
        leaves = [tx_leaf(i, s) for i, s in zip(ids, sigs, strict=True)]
        if merkle_root(leaves) != header.tx_root:
            return False, "tx_ids and tx_sigs do not hash to the header's tx_root"
    signers = ", ".join(committed_by(cert))
    return True, (f"valid: block {header.height} of {genesis.chain_id} (hash "
                  f"{block_hash.hex()[:16]}..., view {cert.view}) committed by {signers} "
                  f"({len(cert.votes)} of {genesis.n} operators; {genesis.quorum} needed)")


def committed_by(cert: CommitCertificate) -> list[str]:
    """The voting operators' names, in the certificate's order."""
    return [vote.operator for vote in cert.votes]


def _parse(proof: Any) -> tuple[bytes, bytes, CommitCertificate]:
    if not isinstance(proof, dict):
        raise ValueError("a proof is a JSON object")
    for name in ("header", "header_bytes", "block_hash", "certificate"):
        if name not in proof:
            raise ValueError(f"missing {name}")
    try:
        header_bytes = bytes.fromhex(proof["header_bytes"])
        block_hash = bytes.fromhex(proof["block_hash"])
    except (TypeError, ValueError):
        raise ValueError("header_bytes and block_hash are hex") from None
    if len(block_hash) != 32:
        raise ValueError("block_hash is 32 bytes")
    return header_bytes, block_hash, CommitCertificate.from_json(proof["certificate"])
