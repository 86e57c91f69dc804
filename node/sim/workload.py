"""The clients: registered investors moving cash, the bank minting it, from the run's
workload random stream; a client resubmits what is not committed in time, to another node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaincode.identity import sign_consent
from consensus import codec
from consensus.crypto import Signer
from consensus.events import (
    PendingTx,
    TxsAdmitted,
)
from node.admission.tx import Transaction, TxError, build
from node.sim.config import CLIENT_RETRY_MS, INVESTORS, TX_EXPIRY_MS, _seed_of
from node.sim.network import Meta
from node.sim.simnode import SimNode


@dataclass
class Client:
    name: str
    signer: Signer
    nonce: int = 0


@dataclass
class ClientTx:
    tx: Transaction
    submitted_ms: int
    entry: str
    attempts: int = 1


class Workload:
    """Mixin of `Simulation`: the clients and their transactions."""

    def _make_clients(self) -> dict[str, Client]:
        clients = {name: Client(name, self.network.org_signers[name])
                   for name in ("bank", "broker-a")}
        for index in range(INVESTORS):
            name = f"inv-{index}"
            clients[name] = Client(name, Signer(_seed_of("client " + name)))
        return clients


    def _schedule_workload(self) -> None:
        rate = self.config.tx_rate
        self.at(5, "submit", "register")
        if rate <= 0:
            return
        mean_gap = 1000 / rate
        time_ms = 40.0
        while True:
            time_ms += self.rng_load.expovariate(1 / mean_gap)
            if time_ms >= self.config.duration_ms:
                return
            self.at(int(time_ms), "submit", "random")

    def make_tx(self, client: str, contract: str, method: str, args: dict[str, Any]
                ) -> Transaction:
        c = self.clients[client]
        c.nonce += 1
        return build(c.signer, self.chain, contract, method, args, c.nonce,
                     self.clock + TX_EXPIRY_MS)

    def _on_submit(self, what: str) -> None:
        if what == "register":
            kyc = self.genesis.genesis_time + 10 * 365 * 86_400_000
            attrs = {"investor_type": "general", "legal_form": "individual", "country": "KR",
                     "resident": True, "kyc_expires": kyc, "aml_risk": "low"}
            broker = self.clients["broker-a"].signer.account
            for index in range(INVESTORS):
                signer = self.clients[f"inv-{index}"].signer
                consent = sign_consent(signer, self.chain, broker, "investor")
                self.submit(self.make_tx("broker-a", "identity", "register",
                                         {"account": signer.account, "role": "investor",
                                          "attrs": attrs, "consent": consent}))
            return
        rng = self.rng_load
        investors = [f"inv-{index}" for index in range(INVESTORS)]
        if rng.random() < 0.35:
            to = self.clients[rng.choice(investors)].signer.account
            tx = self.make_tx("bank", "cash", "mint", {"to": to,
                                                       "amount": rng.randint(1_000, 100_000)})
        else:
            sender, receiver = rng.sample(investors, 2)
            tx = self.make_tx(sender, "cash", "transfer",
                              {"to": self.clients[receiver].signer.account,
                               "amount": rng.randint(1, 5_000)})
        self.submit(tx)

    def submit(self, tx: Transaction, entry: str | None = None) -> None:
        """A client hands `tx` to a node that is up (chosen at random unless `entry`)."""
        up = [name for name in self.names if self.nodes[name].up]
        if not up:
            return
        entry = entry or self.rng_load.choice(up)
        known = self.txs.get(tx.tx_id)
        if known is None:
            self.txs[tx.tx_id] = ClientTx(tx, self.now, entry)
            self.tx_order.append(tx.tx_id)
            self._unsettled.append(tx.tx_id)
        else:
            known.entry = entry
            known.attempts += 1
        self.at(self.now + CLIENT_RETRY_MS, "retry", tx.tx_id)
        self.admit(self.nodes[entry], [tx], gossip=True)

    def _on_retry(self, tx_id: bytes) -> None:
        record = self.txs[tx_id]
        if self.nodes[record.entry].executor.is_committed(tx_id):
            return
        up = [name for name in self.names if self.nodes[name].up and name != record.entry]
        if up:
            self.submit(record.tx, self.rng_load.choice(up))

    def admit(self, node: SimNode, txs: list[Transaction], gossip: bool) -> None:
        if not node.up:
            return
        admitted = []
        for tx in txs:
            try:
                node.mempool.admit(tx, self.clock)
            except TxError:
                continue
            admitted.append(tx)
        if gossip and txs and not (node.behaviour and node.behaviour.silences_host()):
            frame = codec.pack([[tx.body_bytes, tx.sig] for tx in txs])
            for to in self.names:
                if to != node.name:
                    self.transmit(node.name, to, "t", frame, Meta("TXS"))
        if admitted:
            self.feed(node, TxsAdmitted(tuple(PendingTx(tx.tx_id, tx.body_bytes, tx.sig,
                                                        tx.expires) for tx in admitted)))
