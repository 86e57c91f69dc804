"""The faults of a chaos run (scripts/chaos.py): a seeded schedule of episodes, and the relay
policies that partitions and one-way links are made of.

An episode is one fault, held for a while, then healed:

  kill       SIGKILL one node (half the time the primary); the heal restarts it
  pause      SIGSTOP one node; the heal is SIGCONT. Its sockets stay open, nothing answers
  isolate    pull one node's cable (node.tools.netns): the kernel drops its packets, RPC too,
             and TCP retransmits into nothing with exponential backoff until the heal
  split      hold every link between two groups at the relay (node.tools.relay): n - f | f
             (the larger side keeps a quorum: 3-1 at n = 4) or halves (no side has one: 2-2)
  bridge     a non-transitive partition: two sides cut from each other, one node linked to
             both (at n = 4 the bridge and the larger side make a quorum; at n = 7 no side
             does, though every node still sees more than half)
  oneway     hold one direction of one link at the relay: a's bytes never reach b, b's reach a
  drop       the kernel drops every packet a sends to b (a blackhole route): b's data reaches
             a, a's acks and data never reach b, so TCP itself stalls one way
  deaf       hold every direction into one node: it sends to all, hears nothing
  flap       split halves and heal, several times a second or two apart, so that cuts race
             the redials and handshakes; the last heal is the episode's heal
  slow       delay every link of one node by 50-400 ms each way (then back to none)

`Schedule` deals the kinds like cards: each round is every kind once, in an order from the
seed, so a run of one round's length has met every kind. Gaps, hold times and victims come
from the same seed (a fifth of the faults are long, 20-45 s: links given up for good, queues
and view-change timers growing); which node is the primary at a kill is looked up when it
happens. One episode runs at a time and the next one starts a gap after the cluster has caught
up with the heal, so every heal gets its recovery measured (scripts/chaos.py).

The relay policies are pure: `split_held`, `oneway_held`, `deaf_held` return the directions to
hold, as `[from, to]` pairs the relay's `set` takes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

KINDS = ("kill", "pause", "isolate", "split", "bridge", "oneway", "drop", "deaf", "flap",
         "slow")
PROCESS_KINDS = ("kill", "pause")  # need no namespaces: the loopback chaos run has these
GAP_S = (1.0, 5.0)  # after the cluster caught up with the last heal, before the next fault
HOLD_S = (2.0, 12.0)  # how long a fault lasts; long enough, often, for heartbeats to notice
LONG_HOLD_S = (20.0, 45.0)  # a long fault: links down for good, queues and timers grow
LONG_HOLD_SHARE = 0.2  # of the episodes (not flaps, which are many short cuts)
FLAP_CUTS = (3, 6)  # cuts in one flap episode
FLAP_PHASE_S = (0.2, 2.0)  # each cut and each heal between cuts
SLOW_DELAY_MS = (50, 400)


@dataclass(frozen=True, slots=True)
class Episode:
    """One fault of the schedule. `groups` is the split (flap: every cut splits the same
    halves; bridge: the two sides, `nodes[0]` linked to both); `nodes` the victims of the
    other kinds (oneway, drop: from, to)."""

    number: int
    kind: str
    gap_s: float
    hold_s: float
    nodes: tuple[str, ...] = ()  # oneway, drop: (from, to)
    groups: tuple[tuple[str, ...], ...] = ()
    primary: bool = False  # kill: the primary of the moment, not nodes[0]
    delay_ms: int = 0  # slow
    phases_s: tuple[float, ...] = ()  # flap: cut, heal, cut, heal, ... (ends with a cut)

    def describe(self) -> str:
        if self.kind == "bridge":
            return (f"bridge {','.join(self.groups[0])} | {','.join(self.groups[1])} "
                    f"linked only through {self.nodes[0]}")
        if self.groups:
            sides = " | ".join(",".join(group) for group in self.groups)
            return f"{self.kind} {sides}" + (f" x{(len(self.phases_s) + 1) // 2}"
                                              if self.kind == "flap" else "")
        if self.kind == "oneway":
            return f"oneway {self.nodes[0]} -> {self.nodes[1]} held"
        if self.kind == "drop":
            return f"drop {self.nodes[0]} -> {self.nodes[1]} at the kernel"
        if self.kind == "slow":
            return f"slow {self.nodes[0]} +{self.delay_ms} ms each way"
        return f"{self.kind} {'the primary' if self.primary else self.nodes[0]}"


@dataclass
class Schedule:
    """Episodes from `seed` over the nodes `names`, of the `kinds` allowed (see the module
    docstring). `f` is the cluster's fault tolerance, for the n - f | f split."""

    seed: int
    names: tuple[str, ...]
    kinds: tuple[str, ...] = KINDS
    f: int = 1
    _rng: random.Random = field(init=False)
    _deck: list[str] = field(init=False, default_factory=list)
    _dealt: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be some of {', '.join(KINDS)}: {unknown}")
        if len(self.names) < 2:
            raise ValueError("faults between nodes need two nodes at least")
        self._rng = random.Random(self.seed)

    def next(self) -> Episode:
        if not self._deck:
            self._deck = list(self.kinds)
            self._rng.shuffle(self._deck)
        kind = self._deck.pop()
        self._dealt += 1
        rng = self._rng
        gap_s = round(rng.uniform(*GAP_S), 1)
        hold_s = round(rng.uniform(*(LONG_HOLD_S if rng.random() < LONG_HOLD_SHARE
                                     else HOLD_S)), 1)
        shuffled = rng.sample(self.names, len(self.names))
        episode = Episode(self._dealt, kind, gap_s, hold_s, nodes=tuple(shuffled[:2]))
        if kind == "kill":
            return replace(episode, nodes=episode.nodes[:1], primary=rng.random() < 0.5)
        if kind == "split":
            cut = len(self.names) // 2 if rng.random() < 0.5 else len(self.names) - self.f
            return replace(episode, nodes=(), groups=_sides(shuffled, cut))
        if kind == "bridge":
            rest = shuffled[1:]
            side = (len(self.names) - 1) // 2
            return replace(episode, nodes=(shuffled[0],),
                           groups=(tuple(sorted(rest[:side])), tuple(sorted(rest[side:]))))
        if kind == "flap":
            phases = [round(rng.uniform(*FLAP_PHASE_S), 1)
                      for _ in range(2 * rng.randint(*FLAP_CUTS) - 1)]
            return replace(episode, nodes=(), groups=_sides(shuffled, len(self.names) // 2),
                            phases_s=tuple(phases), hold_s=round(sum(phases), 1))
        if kind == "slow":
            return replace(episode, nodes=episode.nodes[:1],
                            delay_ms=rng.randint(*SLOW_DELAY_MS))
        if kind in ("oneway", "drop"):
            return episode
        return replace(episode, nodes=episode.nodes[:1])


def _sides(shuffled: list[str], cut: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(sorted(shuffled[:cut])), tuple(sorted(shuffled[cut:]))


# ---- relay policies ------------------------------------------------------------------------

def split_held(groups: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    """Every direction between nodes of different groups."""
    return [[a, b] for index, group in enumerate(groups) for a in group
            for other in groups[:index] + groups[index + 1:] for b in other]


def oneway_held(source: str, destination: str) -> list[list[str]]:
    """Only source -> destination: destination still reaches source."""
    return [[source, destination]]


def deaf_held(name: str, names: tuple[str, ...]) -> list[list[str]]:
    """Every direction into `name`: it can send, but hears nothing."""
    return [[other, name] for other in names if other != name]


def slow_delays(name: str, names: tuple[str, ...], delay_ms: int) -> list[list[str | int]]:
    """`delay_ms` on every direction to and from `name`."""
    return [entry for other in names if other != name
            for entry in ([name, other, delay_ms], [other, name, delay_ms])]
