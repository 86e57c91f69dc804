"""Scenarios that broke public PBFT implementations, driven through the simulator.

Each one scripts the network (`Simulation.deliver_filter`) or the faults (`Simulation.at`)
around real replicas, executors and chaincode, then asks the checker: safety on every step,
and every client transaction committed once the trouble is over.
"""

from __future__ import annotations

from node.sim import Meta, SimConfig, Simulation, format_result


def _run(sim: Simulation):  # type: ignore[no-untyped-def]
    result = sim.run()
    assert result.ok, format_result(result)
    return result


def test_view_change_while_some_replicas_prepared_and_others_did_not() -> None:
    """Seq 3: ksd and broker-a get every PREPARE and prepare it; broker-b and bank get none.
    Nobody gets a COMMIT, so nobody commits; the request timer fires, and the NEW-VIEW must
    carry seq 3's prepared certificate (the same block) into the next view."""
    sim = Simulation(SimConfig(seed=5, duration_ms=2_500, faults="none"))

    def deliver(sim: Simulation, sender: str, to: str, meta: Meta) -> bool:
        if sim.now > 1_500 or meta.seq != 3:
            return True
        if meta.type == "PREPARE" and to in ("broker-b", "bank"):
            return False
        return meta.type != "COMMIT"

    sim.deliver_filter = deliver
    result = _run(sim)
    assert max(n["view"] for n in result.nodes) >= 1
    # ksd and broker-a prepared seq 3 in view 0: each signed a COMMIT for it (all lost)
    prepared = {sim.checker.votes[(name, "COMMIT", 0, 3)] for name in ("ksd", "broker-a")}
    assert len(prepared) == 1
    # the block committed at 3, in a later view, is that prepared block, on every node
    committed = sim.checker.block_hashes[3][0]
    assert committed == prepared.pop()
    for name, node in sim.nodes.items():
        assert node.executor.block_hash_at(3) == committed, name
    certificate = sim.nodes["ksd"].executor.certificate(3)
    assert certificate is not None and certificate.view >= 1


def test_stable_checkpoint_advances_during_a_view_change() -> None:
    """CHECKPOINTs to bank are held back until a view change (the primary crashes) is under
    way; bank adopts the stable checkpoint in the middle of it, and then the NEW-VIEW's."""
    sim = Simulation(SimConfig(seed=8, duration_ms=3_000, faults="none"))
    sim.at(700, "call", lambda s: s.crash("ksd"))
    sim.at(1_900, "call", lambda s: s.restart("ksd"))

    def deliver(sim: Simulation, sender: str, to: str, meta: Meta) -> bool:
        return not (meta.type == "CHECKPOINT" and to == "bank" and sim.now < 1_000)

    sim.deliver_filter = deliver
    sim.heal_ms = 1_900
    result = _run(sim)
    bank = next(n for n in result.nodes if n["name"] == "bank")
    assert bank["view"] >= 1 and bank["stable_checkpoint"] >= 8
    assert sim.drop_reasons.get("scenario", 0) > 0


def test_state_transfer_while_a_view_change_runs() -> None:
    """bank is down while blocks commit; it restarts behind just as the primary crashes, so
    it fetches blocks (certificates checked) while the others change view."""
    sim = Simulation(SimConfig(seed=21, duration_ms=3_500, faults="none"))
    sim.at(200, "call", lambda s: s.crash("bank"))
    sim.at(1_400, "call", lambda s: s.crash("ksd"))
    sim.at(1_450, "call", lambda s: s.restart("bank"))
    sim.at(2_500, "call", lambda s: s.restart("ksd"))
    sim.heal_ms = 2_500
    result = _run(sim)
    bank = next(n for n in result.nodes if n["name"] == "bank")
    assert bank["transferred_blocks"] > 0 and bank["restarts"] == 1
    assert min(n["view"] for n in result.nodes) >= 1


def test_primary_sends_pre_prepare_to_only_f_plus_1_replicas() -> None:
    """n=7, f=2: ksd's PRE-PREPAREs reach only 3 of its 6 peers, too few for a prepare
    quorum of 5: the others time out, change view, and the next primary gets it done."""
    sim = Simulation(SimConfig(nodes=7, seed=4, duration_ms=2_500, faults="none"))
    starved = ("op-4", "op-5", "op-6")

    def deliver(sim: Simulation, sender: str, to: str, meta: Meta) -> bool:
        return not (meta.type == "PRE-PREPARE" and sender == "ksd" and to in starved)

    sim.deliver_filter = deliver
    result = _run(sim)
    assert min(n["view"] for n in result.nodes) >= 1
    assert len({n["height"] for n in result.nodes}) == 1


def test_primary_sends_pre_prepare_to_f_plus_1_replicas_n4() -> None:
    """n=4: ksd skips bank only; ksd + 2 peers are a quorum, and bank catches up."""
    sim = Simulation(SimConfig(nodes=4, seed=6, duration_ms=2_500, faults="none"))
    sim.deliver_filter = lambda sim, sender, to, meta: not (
        meta.type == "PRE-PREPARE" and sender == "ksd" and to == "bank")
    result = _run(sim)
    heights = {n["name"]: n["height"] for n in result.nodes}
    assert heights["bank"] > 0


def test_restarted_replica_does_not_double_vote() -> None:
    """bank crashes right after it sends its PREPARE for seq 6 and restarts 300 ms later.
    Its persisted votes survive; every vote it signed before and after the restart (the
    checker sees all of them) agrees for each (kind, view, seq)."""
    sim = Simulation(SimConfig(seed=9, duration_ms=2_500, faults="none"))
    crashed: list[int] = []

    def deliver(sim: Simulation, sender: str, to: str, meta: Meta) -> bool:
        if sender == "bank" and meta.type == "PREPARE" and meta.seq == 6 and not crashed:
            crashed.append(sim.now)
            sim.at(sim.now, "call", lambda s: s.crash("bank"))
            sim.at(sim.now + 300, "call", lambda s: s.restart("bank"))
        return True

    sim.deliver_filter = deliver
    sim.heal_ms = 1_000
    result = _run(sim)
    assert crashed and sim.nodes["bank"].restarts == 1
    votes = {key: digest for key, digest in sim.checker.votes.items() if key[0] == "bank"}
    assert any(key[1] == "PREPARE" and key[3] == 6 for key in votes)
    # everything bank sent was checked against what it had persisted (persist before send)
    assert not [v for v in result.violations if v.kind in ("double_vote",
                                                           "persist_before_send")]
