"""Canonical encoding, blocks, Merkle roots and commit certificates (PROTOCOL.md)."""

import hashlib

import msgpack
import pytest

from consensus import codec
from consensus.block import (
    ZERO_HASH,
    CommitCertificate,
    Vote,
    check_certificate,
    commit_vote_bytes,
    make_block,
    merkle_root,
)
from consensus.crypto import COMMIT_DOMAIN, TX_DOMAIN, Signer, verify


def test_pack_sorts_keys_by_utf8_bytes_at_every_depth():
    value = {"b": 1, "a": {"z": [1, 2], "é": 3, "y": b"\x00"}}
    packed = codec.pack(value)
    assert packed == msgpack.packb(
        {"a": {"y": b"\x00", "z": [1, 2], "é": 3}, "b": 1}, use_bin_type=True)
    assert codec.unpack(packed) == value


@pytest.mark.parametrize("raw, code", [
    (msgpack.packb({"b": 1, "a": 2}), "not_canonical"),
    (b"\xcd\x00\x01", "not_canonical"),  # 1 as uint16: not the shortest form
    (msgpack.packb(1.5), "bad_encoding"),
    (msgpack.packb({1: 2}), "bad_encoding"),
    (b"\xc1", "bad_encoding"),
    (b"\x01\x02", "bad_encoding"),
    (msgpack.packb("x", use_bin_type=False)[:0] + b"\xd9", "bad_encoding"),
])
def test_unpack_refuses_what_is_not_canonical(raw, code):
    with pytest.raises(codec.EncodingError) as caught:
        codec.unpack(raw)
    assert caught.value.code == code


def test_pack_refuses_values_without_a_canonical_form():
    for value in (1.0, {1: "a"}, {"a": {2, 3}}, 2**64):
        with pytest.raises(codec.EncodingError):
            codec.pack(value)


def test_merkle_root_pairs_last_leaf_with_itself():
    a, b, c = (hashlib.sha256(x).digest() for x in (b"a", b"b", b"c"))
    h = lambda x: hashlib.sha256(x).digest()  # noqa: E731
    assert merkle_root([]) == ZERO_HASH
    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == h(a + b)
    assert merkle_root([a, b, c]) == h(h(a + b) + h(c + c))


def test_block_round_trip_and_hash_is_sha256_of_header_bytes():
    block = make_block("chain", 1, ZERO_HASH, 1000, 0, "ksd", [(b"body", b"s" * 64)])
    again = type(block).decode(block.encode())
    assert again == block and again.is_consistent()
    assert block.hash == hashlib.sha256(block.header.encode()).digest()
    tampered = type(block)(block.header, ((b"other", b"s" * 64),))
    assert not tampered.is_consistent()


def _certificate(signers, chain="chain", view=0, height=1, block_hash=b"h" * 32):
    message = commit_vote_bytes(chain, view, height, block_hash)
    votes = tuple(Vote(name, s.public_key, s.sign(COMMIT_DOMAIN, message))
                  for name, s in signers)
    return CommitCertificate(view, height, block_hash, votes)


def test_certificate_needs_2f_plus_1_distinct_valid_genesis_votes():
    signers = [(f"op{i}", Signer.generate()) for i in range(4)]
    operators = {name: s.public_key for name, s in signers}
    good = _certificate(signers[:3])
    assert check_certificate(good, "chain", operators, b"h" * 32, 1) is None
    assert CommitCertificate.decode(good.encode()) == good
    assert CommitCertificate.from_json(good.to_json()) == good
    assert "needs 3" in check_certificate(_certificate(signers[:2]), "chain", operators,
                                          b"h" * 32, 1)
    doubled = CommitCertificate(0, 1, b"h" * 32, good.votes[:2] + good.votes[:1])
    assert "two votes" in check_certificate(doubled, "chain", operators, b"h" * 32, 1)
    outsider = _certificate([*signers[:2], ("op9", Signer.generate())])
    assert "not an operator" in check_certificate(outsider, "chain", operators, b"h" * 32, 1)
    wrong_chain = _certificate(signers[:3], chain="other")
    assert "bad signature" in check_certificate(wrong_chain, "chain", operators, b"h" * 32, 1)
    assert check_certificate(good, "chain", operators, b"x" * 32, 1) is not None


def test_signatures_are_domain_separated():
    signer = Signer.generate()
    sig = signer.sign(TX_DOMAIN, b"message")
    assert verify(signer.public_key, TX_DOMAIN, b"message", sig)
    assert not verify(signer.public_key, COMMIT_DOMAIN, b"message", sig)
    tampered = sig[:-1] + bytes([sig[-1] ^ 0x01])  # always a change, whatever the last byte
    assert tampered != sig
    assert not verify(signer.public_key, TX_DOMAIN, b"message", tampered)


def test_certificate_counts_the_replicas_quorum_when_n_is_not_3f_plus_1():
    """n = 5: f = 1 and a replica commits with 4 votes. A certificate with 2f+1 = 3 votes
    (f+1 honest voters at most) must not pass: both sides count `quorum_size(n)`."""
    from tests.consensus.harness import CHAIN, Cluster, txs

    cluster = Cluster(5)
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    block, cert = cluster.nodes["op1"].blocks[1]
    assert len(cert.votes) == cluster["op1"].committee.quorum == 4
    assert check_certificate(cert, CHAIN, cluster.operator_keys, block.hash, 1) is None
    three = CommitCertificate(cert.view, cert.height, cert.block_hash, cert.votes[:3])
    assert "needs 4" in check_certificate(three, CHAIN, cluster.operator_keys, block.hash, 1)


def test_certificate_with_malformed_votes_is_refused_not_raised():
    signers = [(f"op{i}", Signer.generate()) for i in range(4)]
    operators = {name: s.public_key for name, s in signers}
    good = _certificate(signers[:3])
    listed = CommitCertificate(0, 1, b"h" * 32, (Vote(["op0"], b"k" * 32, b"s" * 64),  # type: ignore[arg-type]
                                                 *good.votes))
    assert check_certificate(listed, "chain", operators, b"h" * 32, 1) is not None
