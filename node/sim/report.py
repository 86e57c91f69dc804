"""What a run found, and how it is printed (`stoledger sim` and its `--json`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus.quorum import max_faulty
from node.sim.checker import Violation
from node.sim.config import SimConfig


@dataclass
class FaultRecord:
    kind: str
    start_ms: int
    end_ms: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms,
                "detail": self.detail}


@dataclass
class Result:
    config: SimConfig
    end_ms: int
    heal_ms: int
    nodes: list[dict[str, Any]]
    byzantine: dict[str, str]
    faults: list[FaultRecord]
    messages: dict[str, dict[str, int]]
    drop_reasons: dict[str, int]
    txs: dict[str, int]
    violations: list[Violation]
    liveness_checked: bool
    liveness_ok: bool
    liveness_detail: str
    stuck: list[str]  # honest nodes down or behind at the end
    recovery_ms: int | None
    view_changes: list[str]
    timeline: list[str]
    events: int

    @property
    def safety_ok(self) -> bool:
        return not self.violations

    @property
    def ok(self) -> bool:
        return self.safety_ok and (self.liveness_ok or not self.liveness_checked)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.config.seed, "nodes": self.config.nodes,
            "duration_ms": self.config.duration_ms, "end_ms": self.end_ms,
            "heal_ms": self.heal_ms, "tx_rate": self.config.tx_rate,
            "faults_schedule": self.config.faults, "byzantine": self.byzantine,
            "faults": [fault.to_json() for fault in self.faults],
            "node_status": self.nodes, "messages": self.messages,
            "drop_reasons": self.drop_reasons, "txs": self.txs,
            "safety": "OK" if self.safety_ok else "VIOLATED",
            "violations": [v.to_json() for v in self.violations],
            "liveness": self.liveness_word(), "liveness_detail": self.liveness_detail,
            "stuck": self.stuck,
            "recovery_ms": self.recovery_ms, "view_changes": self.view_changes,
            "events": self.events, "reproduce": self.config.command(),
        }

    def liveness_word(self) -> str:
        if not self.liveness_checked:
            return "NOT CHECKED"
        return "OK" if self.liveness_ok else "FAILED"



# -- output ------------------------------------------------------------------------------------

def format_result(result: Result) -> str:
    config = result.config
    lines = [f"stoledger sim: seed {config.seed}, n={config.nodes} (f={max_faulty(config.nodes)})"
             f", {config.duration_ms} ms of traffic at {config.tx_rate} tx/s, faults "
             f"'{config.faults}', ran to t={result.end_ms} ms ({result.events} events)"]
    if result.byzantine:
        lines.append("byzantine: " + ", ".join(f"{name}={behaviour}"
                                               for name, behaviour in result.byzantine.items()))
    else:
        lines.append("byzantine: none")
    lines.append("faults injected:" if result.faults else "faults injected: none")
    for fault in result.faults:
        lines.append(f"  {fault.start_ms:>6}..{fault.end_ms:<6} ms  {fault.detail}")
    lines.append("")
    header = ("node", "role", "height", "view", "view-chg", "stable-cp", "transferred",
              "restarts", "dropped-in")
    rows = [[n["name"], n["role"], n["height"], n["view"], n["view_changes"],
             n["stable_checkpoint"], n["transferred_blocks"], n["restarts"], n["dropped"]]
            for n in result.nodes]
    lines.extend(_table(header, rows))
    lines.append("")
    rows = [[kind, c["sent"], c["delivered"], c["dropped"]]
            for kind, c in result.messages.items()]
    lines.extend(_table(("message", "sent", "delivered", "dropped"), rows))
    if result.drop_reasons:
        lines.append("dropped by the network: " + ", ".join(
            f"{reason} {count}" for reason, count in result.drop_reasons.items()))
    txs = result.txs
    lines.append(f"transactions: {txs['submitted']} submitted ({txs['resubmitted']} resubmitted"
                 f" by clients), {txs['committed_on_every_honest_node']} committed on every "
                 "honest node; "
                 f"receipts {txs['receipts_ok']} ok, {txs['receipts_refused']} refused by "
                 "chaincode")
    lines.append(f"view changes: {sum(n['view_changes'] for n in result.nodes)} VIEW-CHANGE "
                 "messages signed")
    lines.append("")
    if result.safety_ok:
        lines.append("safety: OK")
    else:
        lines.append(f"safety: VIOLATED ({len(result.violations)})")
        for violation in result.violations[:10]:
            lines.append(f"  {violation}")
    liveness = f"liveness: {result.liveness_word()}"
    if result.liveness_checked and result.liveness_ok and result.recovery_ms is not None:
        liveness += (f" (transactions from before the heal at {result.heal_ms} ms all "
                     f"committed {result.recovery_ms} ms after it)")
    elif not result.liveness_checked:
        liveness += " (beyond the fault model: more than f faulty or a broken quorum)"
    else:
        liveness += f" ({result.liveness_detail})"
    lines.append(liveness)
    if not result.ok:
        lines.append(f"FAILED seed {config.seed}; reproduce with: {config.command()}")
    if result.timeline:
        lines.append("")
        lines.append("timeline:")
        lines.extend(result.timeline)
    return "\n".join(lines)


def format_line(result: Result) -> str:
    heights = [n["height"] for n in result.nodes]
    views = max(n["view"] for n in result.nodes)
    byz = ",".join(f"{k}={v}" for k, v in result.byzantine.items()) or "-"
    recovery = "" if result.recovery_ms is None else f" recovered +{result.recovery_ms}ms"
    if result.stuck:
        recovery += f" stuck {','.join(result.stuck)}"
    return (f"seed {result.config.seed:>6}: heights {min(heights)}..{max(heights)} view {views} "
            f"faults {len(result.faults)} byz {byz} txs {result.txs['submitted']} "
            f"safety {'OK' if result.safety_ok else 'VIOLATED'} liveness "
            f"{result.liveness_word()}{recovery}")


def _table(header: tuple[str, ...], rows: list[list[Any]]) -> list[str]:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return out
