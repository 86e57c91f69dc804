"""Who may hold a handshake slot on a node's p2p port (node.net.p2p's accepting side): the TLS
handshake by source address (`HandshakeSlots`), then the signed handshake by the peer the
certificate names (`PeerHandshakes`).

Handshakes in progress are counted by source address in two pools, so that strangers cannot
keep peers out (issue 13, finding 3: 80 idle TCP connections kept a restarted node from
rejoining). Connections from the address of a node in genesis have slots of their own: each
peer needs one, the rest is room for reconnects racing dying links. Everyone else shares the
other pool, at most a few per address, and node.net.p2p closes a connection that has not finished
TLS within TLS_HANDSHAKE_TIMEOUT_S (a peer on a LAN needs milliseconds).

Past TLS pinning the certificate names the peer, and the signed handshake (Hello, HelloProof,
within the node's handshake timeout) is counted per that name, PENDING_HANDSHAKES_PER_PEER
each (issue 27, item 4: the cap was 2 x peers over all of them, so one member's certificate
with a wrong key held every slot of the observer and ksd's genuine handshake was refused).
Whoever holds a certificate, honest or not, can only hold its own peer's slots.
"""

from __future__ import annotations

import socket

PEER_TLS_HANDSHAKES_PER_PEER = 4
MAX_STRANGER_TLS_HANDSHAKES = 64
STRANGER_TLS_HANDSHAKES_PER_ADDRESS = 4
TLS_HANDSHAKE_TIMEOUT_S = 2.0
# Signed handshakes in progress per claimed peer: a legitimate peer holds one, or two while
# a reconnect races its dying link.
PENDING_HANDSHAKES_PER_PEER = 2


class HandshakeSlots:
    """TLS handshakes in progress by source address, in two pools: the addresses of genesis
    nodes, and everyone else (see PEER_TLS_HANDSHAKES_PER_PEER and the stranger limits)."""

    def __init__(self, peer_addresses: dict[str, int]) -> None:
        self.peer_limits = {address: PEER_TLS_HANDSHAKES_PER_PEER * count
                            for address, count in peer_addresses.items()}
        self.by_address: dict[str, int] = {}
        self.strangers = 0

    def acquire(self, address: str) -> bool:
        held = self.by_address.get(address, 0)
        peer_limit = self.peer_limits.get(address)
        if peer_limit is not None:
            if held >= peer_limit:
                return False
        elif (held >= STRANGER_TLS_HANDSHAKES_PER_ADDRESS
              or self.strangers >= MAX_STRANGER_TLS_HANDSHAKES):
            return False
        else:
            self.strangers += 1
        self.by_address[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self.by_address[address] - 1
        if held:
            self.by_address[address] = held
        else:
            del self.by_address[address]
        if address not in self.peer_limits:
            self.strangers -= 1
        assert self.strangers >= 0


class PeerHandshakes:
    """Signed handshakes in progress by the peer name a pinned certificate gave."""

    def __init__(self) -> None:
        self.by_peer: dict[str, int] = {}

    def acquire(self, name: str) -> bool:
        held = self.by_peer.get(name, 0)
        if held >= PENDING_HANDSHAKES_PER_PEER:
            return False
        self.by_peer[name] = held + 1
        return True

    def release(self, name: str) -> None:
        held = self.by_peer[name] - 1
        if held:
            self.by_peer[name] = held
        else:
            del self.by_peer[name]


def addresses_of(host: str) -> set[str]:
    """The IP addresses a genesis host name stands for (itself when it is an address)."""
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None)} | {host}
    except OSError:
        return {host}
