"""Offline block proofs: `node.ledger.proof.verify_proof` and `stoledger audit verify` accept a real
proof and reject each kind of tampering with a reason."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from consensus.block import CommitCertificate, Vote, commit_vote_bytes, make_block
from consensus.crypto import COMMIT_DOMAIN, Signer
from genesis.schema import genesis_json
from node.cli import main
from node.ledger.proof import verify_proof
from node.rpc.audit import proof_json
from tests.node.test_audit import Ledger, StandInNode


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    led = Ledger()
    bank = led.account("bank")
    for amount in (10, 20, 30):
        led.commit(led.tx("bank", "cash", "mint", to=bank, amount=amount),
                   led.tx("bank", "cash", "mint", to=bank, amount=amount + 1))
    return led


@pytest.fixture
def proof(ledger: Ledger) -> dict[str, Any]:
    return proof_json(StandInNode(ledger), 2)


def _flip(hex_text: str, at: int) -> str:
    data = bytearray(bytes.fromhex(hex_text))
    data[at] ^= 0x01  # a negative index counts from the end
    return data.hex()


def tamper_header_byte(proof: dict[str, Any], ledger: Ledger) -> None:
    proof["header_bytes"] = _flip(proof["header_bytes"], len(proof["header_bytes"]) // 4)


def tamper_tx_root_byte(proof: dict[str, Any], ledger: Ledger) -> None:
    """The last byte of header_bytes is tx_root's: it still decodes, to another header."""
    proof["header_bytes"] = _flip(proof["header_bytes"], -1)


def tamper_header_consistently(proof: dict[str, Any], ledger: Ledger) -> None:
    """Header and header_bytes changed together: the hash no longer matches."""
    from consensus.block import BlockHeader
    from node.admission.tx import to_json

    tamper_tx_root_byte(proof, ledger)
    header = BlockHeader.decode(bytes.fromhex(proof["header_bytes"]))
    proof["header"] = to_json(header.to_map())


def tamper_header_field(proof: dict[str, Any], ledger: Ledger) -> None:
    proof["header"]["time"] += 1


def tamper_block_hash(proof: dict[str, Any], ledger: Ledger) -> None:
    proof["block_hash"] = _flip(proof["block_hash"], 0)


def tamper_signature(proof: dict[str, Any], ledger: Ledger) -> None:
    vote = proof["certificate"]["votes"][1]
    vote["sig"] = _flip(vote["sig"], 5)


def outsider_vote(proof: dict[str, Any], ledger: Ledger) -> None:
    outsider = Signer.generate()
    cert = proof["certificate"]
    message = commit_vote_bytes(ledger.genesis.chain_id, cert["view"], cert["height"],
                                bytes.fromhex(cert["block_hash"]))
    cert["votes"][2] = {"operator": "bank", "public_key": outsider.account,
                        "sig": outsider.sign(COMMIT_DOMAIN, message).hex()}


def outsider_name(proof: dict[str, Any], ledger: Ledger) -> None:
    outsider_vote(proof, ledger)
    proof["certificate"]["votes"][2]["operator"] = "mallory"


def too_few_votes(proof: dict[str, Any], ledger: Ledger) -> None:
    del proof["certificate"]["votes"][2]


def duplicate_vote(proof: dict[str, Any], ledger: Ledger) -> None:
    votes = proof["certificate"]["votes"]
    votes[2] = copy.deepcopy(votes[0])


def other_height(proof: dict[str, Any], ledger: Ledger) -> None:
    proof.update(proof_json(StandInNode(ledger), 3), certificate=proof["certificate"])


def tampered_tx_list(proof: dict[str, Any], ledger: Ledger) -> None:
    proof["tx_ids"] = proof["tx_ids"][:1]
    proof["tx_sigs"] = proof["tx_sigs"][:1]


def forged_tx_signature(proof: dict[str, Any], ledger: Ledger) -> None:
    """The real transactions under another signature: tx_root commits to signatures."""
    sig = proof["tx_sigs"][0]
    proof["tx_sigs"][0] = ("0" if sig[0] != "0" else "1") + sig[1:]


def tx_ids_without_sigs(proof: dict[str, Any], ledger: Ledger) -> None:
    del proof["tx_sigs"]


def wrong_chain(proof: dict[str, Any], ledger: Ledger) -> None:
    """A block of another chain, certified by the same operator keys for that chain."""
    block = make_block("other-chain", 1, b"\x00" * 32, 5, 0, "ksd", [])
    message = commit_vote_bytes("other-chain", 0, 1, block.hash)
    votes = tuple(Vote(name, ledger.network.node_signers[name].public_key,
                       ledger.network.node_signers[name].sign(COMMIT_DOMAIN, message))
                  for name in ("ksd", "broker-a", "bank"))
    from node.admission.tx import to_json

    proof.clear()
    proof.update(header=to_json(block.header.to_map()), header_bytes=block.header.encode().hex(),
                 block_hash=block.hash.hex(),
                 certificate=CommitCertificate(0, 1, block.hash, votes).to_json())


TAMPERINGS = {
    tamper_header_byte: "header_bytes do not decode",
    tamper_tx_root_byte: "header does not match header_bytes",
    tamper_header_consistently: "sha256(header_bytes) is not block_hash",
    tamper_header_field: "header does not match header_bytes",
    tamper_block_hash: "block_hash",
    tamper_signature: "bad signature in the vote of 'broker-a'",
    outsider_vote: "not its genesis key",
    outsider_name: "'mallory', which is not an operator in genesis",
    too_few_votes: "2 valid votes; a certificate needs 3",
    duplicate_vote: "two votes from 'ksd'",
    other_height: "another",
    tampered_tx_list: "tx_root",
    forged_tx_signature: "tx_ids and tx_sigs do not hash to the header's tx_root",
    tx_ids_without_sigs: "tx_ids and tx_sigs are lists of hex strings",
    wrong_chain: "not genesis' chain",
}


def test_a_real_proof_is_valid(ledger, proof):
    ok, reason = verify_proof(ledger.genesis, proof)
    assert ok, reason
    assert reason.startswith("valid: block 2 ") and "committed by ksd, broker-a, bank" in reason


@pytest.mark.parametrize("tamper", list(TAMPERINGS), ids=lambda f: f.__name__)
def test_each_tampering_is_rejected_with_a_reason(ledger, proof, tamper):
    tamper(proof, ledger)
    ok, reason = verify_proof(ledger.genesis, proof)
    assert not ok
    assert TAMPERINGS[tamper] in reason, reason


def test_a_proof_checked_against_another_genesis_is_rejected(proof):
    other = Ledger()
    ok, reason = verify_proof(other.genesis, proof)
    assert not ok and "genesis" in reason


@pytest.mark.parametrize("junk", [None, [], {}, {"header": {}, "header_bytes": "zz",
                                                  "block_hash": "00", "certificate": {}}])
def test_malformed_proofs_are_rejected(ledger, junk):
    ok, reason = verify_proof(ledger.genesis, junk)
    assert not ok and "malformed" in reason


# ---- the CLI ---------------------------------------------------------------------------------

def _files(tmp_path, ledger: Ledger, proof: dict[str, Any]) -> list[str]:
    genesis_path = tmp_path / "genesis.json"
    genesis_path.write_text(genesis_json(ledger.genesis.document))
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(proof))
    return ["audit", "verify", "--genesis", str(genesis_path), "--proof", str(proof_path)]


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return int(caught.value.code or 0)


def test_cli_accepts_a_good_proof(tmp_path, ledger, proof, capsys):
    assert _exit_code(_files(tmp_path, ledger, proof)) == 0
    out = capsys.readouterr().out
    assert "valid: block 2" in out and "committed by ksd, broker-a, bank" in out


@pytest.mark.parametrize("tamper", list(TAMPERINGS), ids=lambda f: f.__name__)
def test_cli_rejects_each_tampered_proof(tmp_path, ledger, proof, tamper, capsys):
    tamper(proof, ledger)
    assert _exit_code(_files(tmp_path, ledger, proof)) == 1
    out = capsys.readouterr().out
    assert out.startswith("invalid: ") and TAMPERINGS[tamper] in out


def test_cli_rejects_a_file_that_is_not_json(tmp_path, ledger, proof, capsys):
    argv = _files(tmp_path, ledger, proof)
    (tmp_path / "proof.json").write_text("not json")
    assert _exit_code(argv) == 1
    assert "cannot read the proof" in capsys.readouterr().out
