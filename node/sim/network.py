"""The virtual network: a base latency per directed link plus seeded jitter, loss,
duplication and partitions, all from the run's network random stream; delivery hands each
frame kind to the node host."""

from __future__ import annotations

import json
from dataclasses import dataclass

from consensus import codec
from consensus.events import (
    MessageReceived,
)
from node.net.queue import MAX_QUEUE_BYTES
from node.sim.config import MAX_FRAME_BYTES, MAX_HELD_FRAMES
from node.sim.simnode import SimNode


@dataclass(slots=True)
class Meta:
    """What the trace and the counters say about one message."""

    type: str
    view: int | None = None
    seq: int | None = None


def describe(kind: str, data: bytes) -> Meta:
    if kind != "c":
        return Meta({"t": "TXS", "f": "FETCH", "b": "BLOCKS", "s": "HEIGHT"}[kind])
    try:
        value = codec.unpack(data)
    except codec.EncodingError:
        return Meta("?")
    if not isinstance(value, dict):
        return Meta("?")
    view, seq = value.get("view"), value.get("seq")
    return Meta(str(value.get("type", "?")), view if isinstance(view, int) else None,
                seq if isinstance(seq, int) else None)



class Network:
    """Mixin of `Simulation`: sending and delivering frames between nodes."""

    def connected(self, a: str, b: str) -> bool:
        return all(groups[a] == groups[b] for groups in self.partitions.values())

    def cut_off(self, a: str, b: str) -> bool:
        """A `cut` partition lies between a and b: frames across it are lost."""
        return any(self.partitions[fault_id][a] != self.partitions[fault_id][b]
                   for fault_id in sorted(self.cuts))

    def transmit(self, sender: str, to: str, kind: str, data: bytes, meta: Meta,
                 extra_ms: int = 0) -> None:
        if not self.nodes[sender].up:
            return  # a node that crashed in the middle of its actions sends nothing more
        counts = self.messages.setdefault(meta.type, {"sent": 0, "delivered": 0, "dropped": 0})
        counts["sent"] += 1
        if len(data) > MAX_FRAME_BYTES:
            self._dropped(sender, to, meta, "frame too large")
            return
        if meta.type in self.lost_types.values():
            self._dropped(sender, to, meta, "lost kind")
            return
        loss = max(self.loss.values(), default=self.config.base_loss)
        if loss and self.rng_net.random() < loss:
            self._dropped(sender, to, meta, "loss")
            return
        copies = 1
        duplicate = max(self.duplicate.values(), default=0.0)
        if duplicate and self.rng_net.random() < duplicate:
            copies = 2
            counts["sent"] += 1
        jitter = self.config.base_jitter_ms + max(self.jitter.values(), default=0)
        for _ in range(copies):
            latency = self.links[(sender, to)] + self.rng_net.randint(0, jitter) + extra_ms
            self.at(self.now + latency, "deliver", sender, to, kind, data, meta)
        if self.trace is not None:
            self._trace(sender, to, meta, "sent", None)

    def _dropped(self, sender: str, to: str, meta: Meta, reason: str) -> None:
        self.messages[meta.type]["dropped"] += 1
        self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1
        if self.trace is not None:
            self._trace(sender, to, meta, "dropped", reason)

    def _trace(self, sender: str, to: str, meta: Meta, status: str, reason: str | None) -> None:
        assert self.trace is not None
        record = {"t": self.now, "from": sender, "to": to, "type": meta.type,
                  "view": meta.view, "seq": meta.seq, "status": status}
        if reason is not None:
            record["reason"] = reason
        self.trace.write(json.dumps(record, sort_keys=True) + "\n")

    def _on_deliver(self, sender: str, to: str, kind: str, data: bytes, meta: Meta) -> None:
        node = self.nodes[to]
        if not node.up:
            self._dropped(sender, to, meta, "receiver down")
            return
        if self.deliver_filter is not None and not self.deliver_filter(self, sender, to, meta):
            self._dropped(sender, to, meta, "scenario")
            return
        if not self.connected(sender, to):
            if self.config.partition_drops or self.cut_off(sender, to):
                self._dropped(sender, to, meta, "partition")
            elif len(self.held) < MAX_HELD_FRAMES and \
                    self.held_bytes.get((sender, to), 0) + len(data) <= MAX_QUEUE_BYTES:
                self.held.append((sender, to, kind, data, meta))
                self.held_bytes[(sender, to)] = self.held_bytes.get((sender, to), 0) + len(data)
                self.held_count += 1
            else:
                self._dropped(sender, to, meta, "outbound queue full")
            return
        self.messages[meta.type]["delivered"] += 1
        if self.trace is not None:
            self._trace(sender, to, meta, "delivered", None)
        if kind == "c":
            self._feed_peer_message(node, sender, data, meta)
        elif kind == "t":
            self._on_gossip(node, data)
        elif kind == "f":
            self._serve_fetch(node, sender, data)
        elif kind == "b":
            self._on_blocks(node, sender, data)
        elif kind == "s":
            node.height_sync.report(sender, int(codec.unpack(data)))
        else:
            raise AssertionError(kind)

    def _feed_peer_message(self, node: SimNode, sender: str, data: bytes, meta: Meta) -> None:
        """A consensus message from a peer. Whatever it holds, an honest replica drops it
        or takes it: an exception here stops a real node (node.app `_fail`), so the checker
        records it (`peer_input_stops_node`, red team R2) and the node goes down, as the
        real one would, for good."""
        try:
            self.feed(node, MessageReceived(sender, data))
        except Exception as error:  # judged as a violation below, never hidden
            if not node.honest:
                raise
            self.checker.fail(self.now, "peer_input_stops_node", node.name,
                              f"{type(error).__name__}: {error} on a {meta.type} from {sender}")
            node.crash()
            node.stopped_for_good = True

