"""Issue 13, finding 1: a replica refuses to PREPARE a block carrying a transaction that fails
the host's admission check (signature, chain, expiry), injected as `ReplicaConfig.admit_tx`."""

from __future__ import annotations

from tests.consensus.harness import Cluster, make_tx, txs

FORGED = make_tx(999)


def _admit(body: bytes, sig: bytes, time: int) -> bool:
    return body != FORGED.body


def test_a_block_carrying_a_transaction_that_fails_admission_is_not_prepared() -> None:
    cluster = Cluster(4, admit_tx=_admit)
    cluster.submit((FORGED, *txs(0, 2)), to=["op0"])
    cluster.tick(50)
    assert all(height == 0 for height in cluster.heights().values())
    for name in ("op1", "op2", "op3"):
        assert cluster[name].stats.get("dropped_bad_tx") == 1


def test_a_clean_block_still_commits_under_the_check() -> None:
    cluster = Cluster(4, admit_tx=_admit)
    cluster.submit(txs(0, 2), to=["op0"])
    cluster.tick(50)
    assert cluster.heights() == {name: 1 for name in cluster.names}
