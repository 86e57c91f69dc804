"""The seed sweep: 200 random runs (n = 4 and n = 7) of the `mix` (crashes, crashes between two
steps, partitions that hold frames and ones that lose them, loss, duplication, reordering) and
up to f Byzantine operators of random behaviour (withhold and forge_body among them). Zero
safety violations, and liveness on every honest replica in every run. (The 1,000-seed sweeps
of the README run outside the suite.)"""

from __future__ import annotations

import pytest

from node.sim import SimConfig, format_result, run

SWEEPS = {4: (2_500, 10), 7: (2_000, 8)}  # n -> (simulated ms of traffic, tx per second)


def sweep_config(n: int, seed: int, mix: str = "mix") -> SimConfig:
    duration_ms, tx_rate = SWEEPS[n]
    f = (n - 1) // 3
    return SimConfig(nodes=n, seed=seed, duration_ms=duration_ms, tx_rate=tx_rate,
                     faults=mix, faulty=seed % (f + 1))


@pytest.mark.parametrize("n,seeds", [(4, range(1, 51)), (4, range(51, 101)),
                                     (7, range(1, 51)), (7, range(51, 101))])
def test_sweep(n: int, seeds: range) -> None:
    failures = []
    for seed in seeds:
        result = run(sweep_config(n, seed))
        if not result.safety_ok or (result.liveness_checked and not result.liveness_ok):
            failures.append(format_result(result))
    assert not failures, "\n\n".join(failures)
