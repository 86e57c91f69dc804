"""Faults on a schedule drawn from the run's fault random stream: crashes and restarts,
partitions, loss, duplication and reordering; each heals by `heal_fraction` of the run."""

from __future__ import annotations

from consensus.events import (
    Tick,
)
from node.sim.config import FAULT_SCHEDULES, LOST_TYPES, MIX_POOLS
from node.sim.report import FaultRecord


class Faults:
    """Mixin of `Simulation`: scheduling, injecting and healing faults."""

    # -- faults --------------------------------------------------------------------------------

    def fault_kinds(self) -> list[str]:
        kinds: list[str] = []
        for part in self.config.faults.split(","):
            part = part.strip()
            if not part:
                continue
            if part in FAULT_SCHEDULES:
                kinds.extend(FAULT_SCHEDULES[part])
            elif part in MIX_POOLS:
                pool = [*MIX_POOLS[part]]
                kinds.extend(self.rng_faults.sample(pool, self.rng_faults.randint(1, 3)))
            else:
                raise ValueError(f"--faults {part}: one of {', '.join(FAULT_SCHEDULES)}, "
                                 f"{', '.join(MIX_POOLS)}")
        return kinds

    def _schedule_faults(self) -> None:
        heal_by = self.config.duration_ms * self.config.heal_fraction // 100
        rng = self.rng_faults
        for fault_id, kind in enumerate(self.fault_kinds()):
            latest_start = max(300, heal_by - 300)
            start = rng.randint(min(300, latest_start), latest_start)
            end = min(heal_by, start + rng.randint(200, 1_500))
            end = max(end, start + 100)
            self.at(start, "fault", fault_id, kind, start, end)
            self.heal_ms = max(self.heal_ms, end)
        if self.heal_ms:
            self.at(self.heal_ms, "heal")

    def _on_fault(self, fault_id: int, kind: str, start: int, end: int) -> None:
        rng = self.rng_faults
        if kind == "crash":
            up = [name for name in self.names if self.nodes[name].up]
            if not up:
                return
            victim = rng.choice(up)
            self.nodes[victim].crash()
            self.at(end, "call", lambda sim: sim.restart(victim))
            detail = f"crash {victim}, restart at {end} ms"
        elif kind == "crash_mid":
            up = [name for name in self.names if self.nodes[name].up]
            if not up:
                return
            victim = rng.choice(up)
            steps = rng.randint(1, 6)
            self.nodes[victim].crash_in_steps = steps
            self.at(end, "call", lambda sim: sim.restart(victim))
            detail = f"crash {victim} after {steps} steps of its next actions, restart at {end} ms"
        elif kind in ("partition", "cut"):
            names = list(self.names)
            rng.shuffle(names)
            cut = rng.randint(1, len(names) // 2)
            groups = {name: (0 if index < cut else 1) for index, name in enumerate(names)}
            self.partitions[fault_id] = groups
            if kind == "cut":
                self.cuts.add(fault_id)
            self.at(end, "call", lambda sim: sim.heal_partition(fault_id))
            side = sorted(name for name in names if groups[name] == 0)
            other = sorted(name for name in names if groups[name] == 1)
            detail = f"partition {{{','.join(side)}}} | {{{','.join(other)}}}"
            if kind == "cut":
                detail += " (frames across it are lost)"
        elif kind == "loss":
            rate = rng.choice((0.05, 0.1, 0.2, 0.3))
            self.loss[fault_id] = rate
            self.at(end, "call", lambda sim: sim.loss.pop(fault_id, None))
            detail = f"loss {int(rate * 100)}% on every link"
        elif kind == "lose_type":
            lost = rng.choice(LOST_TYPES)
            self.lost_types[fault_id] = lost
            self.at(end, "call", lambda sim: sim.lost_types.pop(fault_id, None))
            detail = f"every {lost} lost"
        elif kind == "dup":
            rate = rng.choice((0.1, 0.2, 0.3))
            self.duplicate[fault_id] = rate
            self.at(end, "call", lambda sim: sim.duplicate.pop(fault_id, None))
            detail = f"duplicate {int(rate * 100)}% of messages"
        elif kind == "reorder":
            extra = rng.choice((20, 50, 100))
            self.jitter[fault_id] = extra
            self.at(end, "call", lambda sim: sim.jitter.pop(fault_id, None))
            detail = f"jitter +{extra} ms (reordering)"
        else:
            raise AssertionError(kind)
        self.faults.append(FaultRecord(kind, start, end, detail))
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} FAULT {detail} until {end} ms")

    def heal_partition(self, fault_id: int) -> None:
        """The links are back: frames the senders' outbound queues held now leave, in order
        (node.net.p2p keeps one bounded queue per peer that outlives its links)."""
        self.partitions.pop(fault_id, None)
        self.cuts.discard(fault_id)
        held, self.held = self.held, []
        self.held_bytes = {}
        for sender, to, kind, data, meta in held:
            if self.connected(sender, to):
                latency = self.links[(sender, to)] + self.rng_net.randint(
                    0, self.config.base_jitter_ms)
                self.at(self.now + latency, "deliver", sender, to, kind, data, meta)
            else:
                self.held.append((sender, to, kind, data, meta))
                self.held_bytes[(sender, to)] = self.held_bytes.get((sender, to), 0) + len(data)

    def crash(self, name: str) -> None:
        """Scenario tests: crash `name` now (what it did not sync is lost)."""
        self.nodes[name].crash()

    def restart(self, name: str) -> None:
        node = self.nodes[name]
        if node.stopped_for_good:
            return  # a real node stopped by an exception stays down until its operator acts
        if node.up:
            node.crash_in_steps = None  # a crash_mid that never struck
            return
        node.restart()
        if self.config.timeline:
            self.timeline_lines.append(f"t={self.now:>6} {name} restarted at height "
                                       f"{node.executor.height}, view {node.replica.view}")
        self.feed(node, Tick(self.clock))
