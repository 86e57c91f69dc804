"""Messages: canonical round trips, strict decoding, and what exactly is signed."""

from __future__ import annotations

import pytest

from consensus import codec
from consensus import messages as msg
from consensus.block import (
    CommitCertificate,
    Vote,
    check_certificate,
    commit_vote_bytes,
    make_block,
)
from consensus.crypto import COMMIT_DOMAIN, verify
from consensus.quorum import Committee, quorum_size
from tests.consensus.harness import CHAIN, GENESIS_TIME, operator_names, signer_of

NAMES = operator_names(4)
COMMITTEE = Committee.of(CHAIN, tuple((n, signer_of(n).public_key) for n in NAMES))
LIMITS = msg.DecodeLimits(1 << 24, 4, 64)
BLOCK = make_block(CHAIN, 1, bytes(32), GENESIS_TIME, 0, "op0", [(b"body", bytes(64))])


def signed(message, name="op1"):
    return msg.sign(message, signer_of(name), CHAIN)


def test_quorum_is_2f_plus_1_for_3f_plus_1_and_never_unsafe() -> None:
    assert [quorum_size(n) for n in (1, 4, 7, 10)] == [1, 3, 5, 7]
    for n in range(1, 40):
        f = (n - 1) // 3
        assert 2 * quorum_size(n) - n >= f + 1  # two quorums share an honest operator
        assert quorum_size(n) <= n - f  # and n - f live operators still make one


@pytest.mark.parametrize("message", [
    msg.PrePrepare(3, 1, BLOCK, "op0"),
    msg.Prepare(3, 7, b"\x01" * 32, "op1"),
    msg.Commit(3, 7, b"\x02" * 32, "op1"),
    msg.Checkpoint(16, b"\x03" * 32, "op1"),
])
def test_round_trip_is_canonical(message) -> None:
    message = signed(message, message.sender)
    data = message.encode()
    assert msg.decode(data, LIMITS) == message
    assert codec.pack(codec.unpack(data)) == data
    assert msg.is_signed_by_sender(message, COMMITTEE)


def test_signed_bytes_carry_type_and_chain() -> None:
    prepare = msg.Prepare(0, 1, b"\x01" * 32, "op1")
    commit_like = msg.Commit(0, 1, b"\x01" * 32, "op1")
    assert prepare.signing_payload(CHAIN) != prepare.signing_payload("other-chain")
    assert prepare.signing_payload(CHAIN) != commit_like.signing_payload(CHAIN)
    # a PREPARE's signature does not pass as a COMMIT's
    forged = msg.Commit(0, 1, b"\x01" * 32, "op1", signed(prepare).sig)
    assert not msg.is_signed_by_sender(forged, COMMITTEE)


def test_commit_signature_is_the_protocol_commit_vote() -> None:
    commits = [signed(msg.Commit(2, 5, BLOCK.hash, name), name) for name in NAMES[:3]]
    vote_bytes = commit_vote_bytes(CHAIN, 2, 5, BLOCK.hash)
    assert all(verify(signer_of(c.sender).public_key, COMMIT_DOMAIN, vote_bytes, c.sig)
               for c in commits)
    cert = CommitCertificate(2, 5, BLOCK.hash, tuple(
        Vote(c.sender, signer_of(c.sender).public_key, c.sig) for c in commits))
    assert check_certificate(cert, CHAIN, COMMITTEE.keys, BLOCK.hash, 5) is None


def test_checkpoint_signs_chain_seq_and_app_hash() -> None:
    checkpoint = msg.Checkpoint(16, b"\x03" * 32, "op1")
    assert checkpoint.signing_payload(CHAIN).endswith(
        codec.pack({"chain": CHAIN, "seq": 16, "app_hash": b"\x03" * 32}))


def bad(value) -> bytes:
    return codec.pack(value)


GOOD_PREPARE = signed(msg.Prepare(0, 1, b"\x01" * 32, "op1")).to_map()


@pytest.mark.parametrize(("data", "code"), [
    (b"\xc1", "bad_encoding"),
    (b"\x82\xa1b\x01\xa1a\x02", "not_canonical"),
    (bad([1, 2]), "bad_field"),
    (bad({"type": "HELLO"}), "unknown_type"),
    (bad({**GOOD_PREPARE, "extra": 1}), "bad_field"),
    (bad({**GOOD_PREPARE, "view": -1}), "bad_field"),
    (bad({**GOOD_PREPARE, "view": True}), "bad_field"),
    (bad({**GOOD_PREPARE, "seq": 2**62}), "bad_field"),
    (bad({**GOOD_PREPARE, "block_hash": b"short"}), "bad_field"),
    (bad({**GOOD_PREPARE, "sig": b"x" * 63}), "bad_field"),
    (bad({**GOOD_PREPARE, "sender": ""}), "bad_field"),
    (bad({**GOOD_PREPARE, "sender": "x" * 65}), "bad_field"),
    (bad({**GOOD_PREPARE, "padding": b"x" * 5000}), "too_large"),
    (bad({"type": "PRE-PREPARE", "view": 0, "seq": 1, "block": b"junk", "sender": "op0",
          "sig": bytes(64)}), "bad_block"),
])
def test_decode_rejects_malformed(data: bytes, code: str) -> None:
    with pytest.raises(msg.MessageError) as error:
        msg.decode(data, LIMITS)
    assert error.value.code == code


def test_decode_enforces_the_message_size_limit() -> None:
    data = signed(msg.PrePrepare(0, 1, BLOCK, "op0"), "op0").encode()
    with pytest.raises(msg.MessageError) as error:
        msg.decode(data, msg.DecodeLimits(len(data) - 1, 4, 64))
    assert error.value.code == "bad_encoding"


def test_view_change_and_new_view_round_trip() -> None:
    pre_prepare = signed(msg.PrePrepare(0, 1, BLOCK, "op0"), "op0")
    prepares = tuple(signed(msg.Prepare(0, 1, BLOCK.hash, n), n) for n in NAMES[:3])
    cert = msg.PreparedCertificate(pre_prepare, prepares)
    view_change = signed(msg.ViewChange(1, msg.CheckpointProof(0, bytes(32), ()), (cert,),
                                        "op2"), "op2")
    decoded = msg.decode(view_change.encode(), LIMITS)
    assert isinstance(decoded, msg.ViewChange)
    assert decoded.encode() == view_change.encode()
    # the certificate carries its block by hash: header only, signatures still valid
    assert decoded.prepared[0].pre_prepare == pre_prepare.by_hash()
    assert decoded.prepared[0].pre_prepare.is_by_hash and BLOCK.txs
    assert msg.is_signed_by_sender(decoded.prepared[0].pre_prepare, COMMITTEE)
    assert msg.is_signed_by_sender(decoded, COMMITTEE)
    re_proposal = signed(msg.PrePrepare(1, 1, BLOCK, "op1"), "op1")
    new_view = signed(msg.NewView(1, (view_change,), (re_proposal,), "op1"), "op1")
    decoded_new_view = msg.decode(new_view.encode(), LIMITS)
    assert isinstance(decoded_new_view, msg.NewView)
    assert decoded_new_view.encode() == new_view.encode()
    assert decoded_new_view.pre_prepares == (re_proposal.by_hash(),)
    assert msg.is_signed_by_sender(decoded_new_view, COMMITTEE)


def test_a_view_change_carrying_a_block_body_is_refused() -> None:
    pre_prepare = signed(msg.PrePrepare(0, 1, BLOCK, "op0"), "op0")
    prepares = tuple(signed(msg.Prepare(0, 1, BLOCK.hash, n), n) for n in NAMES[:3])
    cert = msg.PreparedCertificate(pre_prepare, prepares)
    body = {"pre_prepare": pre_prepare.encode(), "prepares": [p.encode() for p in prepares]}
    vc_map = {**signed(msg.ViewChange(1, msg.CheckpointProof(0, bytes(32), ()), (cert,),
                                      "op2"), "op2").to_map(), "prepared": [body]}
    from consensus import codec
    with pytest.raises(msg.MessageError):
        msg.decode(codec.pack(vc_map), LIMITS)
