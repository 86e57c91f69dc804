"""Bad input from a peer is dropped, counted, and changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from consensus import codec
from consensus import messages as msg
from consensus.block import Block, make_block
from consensus.events import MessageReceived
from consensus.replica import Replica
from tests.consensus.harness import CHAIN, Cluster, signer_of, txs


def state_of(replica: Replica) -> str:
    """Everything but the counters, as text."""
    log = replica._log
    fields = {k: v for k, v in vars(replica).items()
              if k not in ("_out", "_log", "_signer", "committee", "config", "_limits")}
    return repr((fields, log.low_watermark, log.view, log.slots, log.prepares._votes,
                 log.commits._votes, log.prepared_certificates, log.checkpoints))


@pytest.fixture
def cluster() -> Cluster:
    cluster = Cluster(4, watermark_window=8, checkpoint_interval=4)
    cluster.submit(txs(0, 1))
    cluster.tick(50)
    return cluster


def prepare(view: int, seq: int, sender: str = "op2", signer: str | None = None) -> msg.Prepare:
    return msg.sign(msg.Prepare(view, seq, b"\x09" * 32, sender), signer_of(signer or sender),
                    CHAIN)


def cases() -> dict[str, tuple[str, bytes, str]]:
    forged = prepare(0, 2, sender="op2", signer="op3")
    stranger = dataclasses.replace(prepare(0, 2), sender="mallory")
    return {
        "undecodable": ("op2", b"\xc1\x00", "dropped_undecodable"),
        "not canonical": ("op2", b"\x82\xa1b\x01\xa1a\x02", "dropped_undecodable"),
        "forged signature": ("op2", forged.encode(), "dropped_bad_signature"),
        "unknown operator link": ("mallory", prepare(0, 2).encode(), "dropped_unknown_operator"),
        "unknown operator in message": ("op2", stranger.encode(), "dropped_sender_mismatch"),
        "relayed from another sender": ("op3", prepare(0, 2).encode(), "dropped_sender_mismatch"),
        "outside watermarks": ("op2", prepare(0, 9).encode(), "dropped_outside_watermarks"),
        "already committed": ("op2", prepare(0, 1).encode(), "dropped_stale"),
        "pre-prepare from a backup": ("op2", msg.sign(
            msg.PrePrepare(0, 2, dataclasses.replace(
                block_for_seq_2(), header=dataclasses.replace(block_for_seq_2().header,
                                                            proposer="op2")), "op2"),
            signer_of("op2"), CHAIN).encode(), "dropped_not_primary"),
        "checkpoint off the interval": ("op2", msg.sign(msg.Checkpoint(5, b"\x01" * 32, "op2"),
                                                        signer_of("op2"), CHAIN).encode(),
                                        "dropped_bad_checkpoint"),
    }


def block_for_seq_2() -> Block:
    return make_block(CHAIN, 2, b"\x00" * 32, 0, 0, "op0", [])


@pytest.mark.parametrize("case", sorted(cases()))
def test_bad_input_is_counted_and_changes_nothing(cluster: Cluster, case: str) -> None:
    sender, data, counter = cases()[case]
    replica = cluster["op1"]
    before = state_of(replica)
    count = replica.stats.get(counter, 0)
    actions = replica.handle(MessageReceived(sender, data))
    assert actions == []
    assert replica.stats[counter] == count + 1
    assert state_of(replica) == before


def test_conflicting_vote_is_dropped(cluster: Cluster) -> None:
    replica = cluster["op1"]
    replica.handle(MessageReceived("op2", prepare(0, 2).encode()))
    before = state_of(replica)
    other = msg.sign(msg.Prepare(0, 2, b"\x0a" * 32, "op2"), signer_of("op2"), CHAIN)
    assert replica.handle(MessageReceived("op2", other.encode())) == []
    assert replica.stats["dropped_conflicting"] == 1
    assert state_of(replica) == before


def test_message_of_an_old_view_is_dropped() -> None:
    cluster = Cluster(4)
    cluster.crash("op0")
    cluster.submit(txs(0, 1))
    cluster.advance(2100)
    replica = cluster["op2"]
    assert replica.view == 1
    before = state_of(replica)
    assert replica.handle(MessageReceived("op3", prepare(0, 1, sender="op3").encode())) == []
    assert replica.stats["dropped_wrong_view"] == 1
    assert state_of(replica) == before


def test_oversized_small_message_is_refused_before_decoding(cluster: Cluster) -> None:
    data = codec.pack({**prepare(0, 2).to_map(), "pad": b"x" * 5000})
    assert cluster["op1"].handle(MessageReceived("op2", data)) == []
    assert cluster["op1"].stats["dropped_undecodable"] == 1
