"""The simulator itself: reproducible, its checker bites, its CLI works."""

from __future__ import annotations

import io
import json

from node.sim import SimConfig, format_result, run


def test_same_seed_same_run_byte_for_byte() -> None:
    traces = []
    summaries = []
    for _ in range(2):
        trace = io.StringIO()
        result = run(SimConfig(seed=11, duration_ms=1_500, faults="chaos", faulty=1,
                               trace=trace, timeline=True))
        traces.append(trace.getvalue())
        summaries.append(json.dumps(result.to_json(), sort_keys=True) + format_result(result))
    assert traces[0] == traces[1] and len(traces[0]) > 1000
    assert summaries[0] == summaries[1]
    other = io.StringIO()
    run(SimConfig(seed=12, duration_ms=1_500, faults="chaos", faulty=1, trace=other))
    assert other.getvalue() != traces[0]


def test_trace_lines_are_json_with_fates() -> None:
    trace = io.StringIO()
    run(SimConfig(seed=3, duration_ms=1_000, faults="partition", trace=trace,
                  partition_drops=True))
    records = [json.loads(line) for line in trace.getvalue().splitlines()]
    assert {"t", "from", "to", "type", "view", "seq", "status"} <= set(records[0])
    assert {r["status"] for r in records} == {"sent", "delivered", "dropped"}
    assert any(r.get("reason") == "partition" for r in records)


def test_checker_is_not_vacuous_with_a_broken_quorum() -> None:
    """quorum_override = 2f (TEST-ONLY) plus an equivocating primary must fork the chain,
    and the checker must say so."""
    found = []
    for seed in range(1, 6):
        result = run(SimConfig(seed=seed, duration_ms=1_500, faults="none",
                               byzantine={"ksd": "equivocate"}, quorum_override=2))
        found.extend(v.kind for v in result.violations)
        assert not result.liveness_checked  # beyond the fault model
    assert "agreement" in found and "app_hash" in found


def test_the_same_equivocation_with_the_real_quorum_is_safe() -> None:
    for seed in range(1, 4):
        result = run(SimConfig(seed=seed, duration_ms=1_500, faults="none",
                               byzantine={"ksd": "equivocate"}))
        assert result.ok, format_result(result)
        ksd = next(n for n in result.nodes if n["name"] == "ksd")
        assert ksd["byzantine_actions"] > 0


def test_default_run_summary(capsys) -> None:
    from node.cli import main

    main(["sim", "--duration-ms", "3000"])
    out = capsys.readouterr().out
    assert "safety: OK" in out and "liveness: OK" in out
    assert "faults injected:" in out and "PRE-PREPARE" in out


def test_cli_json_and_seeds(capsys) -> None:
    from node.cli import main

    main(["sim", "--seeds", "2", "--duration-ms", "1000", "--json", "--faults", "crash"])
    payload = json.loads(capsys.readouterr().out)
    assert [item["seed"] for item in payload] == [1, 2]
    assert all(item["safety"] == "OK" for item in payload)


def test_the_simulator_carries_out_actions_as_the_node_does(monkeypatch) -> None:
    """Both hosts run node.ledger.ready.carry_out: the pool hears each committed block with
    its time and counts it toward the commit rate, in the simulator as in node.app (before,
    the simulator's own copy of the loop called remove_committed without the block time and
    never on_commit)."""
    from node.admission.mempool import Mempool

    calls: list[tuple[str, object]] = []
    remove, on_commit = Mempool.remove_committed, Mempool.on_commit

    def removing(self, tx_ids, block_time=None):  # type: ignore[no-untyped-def]
        calls.append(("remove", block_time))
        return remove(self, tx_ids, block_time)

    def committing(self, count):  # type: ignore[no-untyped-def]
        calls.append(("commit", count))
        return on_commit(self, count)

    monkeypatch.setattr(Mempool, "remove_committed", removing)
    monkeypatch.setattr(Mempool, "on_commit", committing)
    result = run(SimConfig(seed=3, duration_ms=600, tx_rate=10, faults="none"))
    assert result.ok, format_result(result)
    removals = [time for kind, time in calls if kind == "remove"]
    assert removals and all(isinstance(time, int) for time in removals)
    assert sum(count for kind, count in calls if kind == "commit") >= result.txs["submitted"]
