"""A market on an in-memory chain: the real executor and contracts, surveillance as its indexer.

`MarketWorld` holds a `MemoryKV`, an `Executor` over the built-in registry (identity, token,
cash, dividend, market) with `Surveillance` as its indexer, and the organisations' keys. Callers
queue transactions (`send`), then `commit(time)` puts them in one block at that time and applies
it exactly as a node does (its commit certificate is not signed: nothing here checks one). It is
what the market generator (node.surveillance.generator) and the surveillance tests drive.
Transactions are signed with real keys; the executor is told they were checked at admission
(node.admission.verified.VerifiedCache), as a node's mempool does, so nothing is verified twice.
"""

from __future__ import annotations

import hashlib
from time import process_time
from typing import Any

import chaincode
from chaincode.identity import sign_consent
from consensus.block import CommitCertificate, make_block
from consensus.crypto import Signer
from node.admission.tx import Transaction, build
from node.admission.verified import VerifiedCache
from node.ledger.executor import AppliedBlock, Executor, Receipt
from node.storage import KV, MemoryKV
from node.surveillance.indexer import Surveillance
from node.surveillance.records import Limits

CHAIN = "market-sim"
ORGS = (("ksd", "registrar"), ("fss", "regulator"), ("broker-a", "broker"),
        ("broker-b", "broker"), ("broker-c", "broker"), ("bank", "bank"),
        ("issuer-1", "issuer"), ("issuer-2", "issuer"), ("tax", "tax"))
TX_EXPIRY_MS = 30 * 86_400_000  # no mempool here: a queued tx may wait for a later block
KYC_YEARS_MS = 10 * 365 * 86_400_000


def signer_of(label: str) -> Signer:
    return Signer(hashlib.sha256(f"market-sim:{label}".encode()).digest())


class MarketWorld:
    def __init__(self, params: dict[str, Any] | None = None, genesis_time: int = 0,
                 store: KV | None = None, indexers: list[Any] | None = None,
                 limits: Limits | None = None) -> None:
        self.params = params or {}
        self.registry = chaincode.builtin_registry(self.params)
        self.signers: dict[str, Signer] = {name: signer_of(name) for name, _ in ORGS}
        self.store = store if store is not None else MemoryKV()
        self.limits = limits
        self.surveillance = Surveillance(self.store, self.params, limits)
        self.verified = VerifiedCache()
        self.executor = Executor(self.store, self.registry, CHAIN, self.verified,
                                 [*(indexers or []), self.surveillance])
        self.apply_seconds = 0.0  # CPU seconds spent applying blocks
        orgs = [{"name": name, "role": role, "account": self.signers[name].account}
                for name, role in ORGS]
        self.executor.init_genesis(b"\x01" * 32, genesis_time,
                                   chaincode.genesis_state(orgs, self.params))
        self.genesis_time = genesis_time
        self.nonces: dict[str, int] = {}
        self.pending: list[Transaction] = []
        self.blocks: list[AppliedBlock] = []
        self.keep_blocks = False

    @property
    def surveillance_seconds(self) -> float:
        """CPU seconds of the surveillance indexer within `apply_seconds` (its own meter)."""
        return self.surveillance.meter.cpu_ns / 1e9

    def account(self, name: str) -> str:
        return self.signers[name].account

    def add_investor(self, name: str) -> str:
        self.signers[name] = signer_of(name)
        return self.account(name)

    def send(self, sender: str, contract: str, method: str, **args: Any) -> Transaction:
        """Queue a transaction signed by `sender` (a name) for the next block."""
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        wire = {(key[:-1] if key.endswith("_") else key): value for key, value in args.items()}
        tx = build(self.signers[sender], CHAIN, contract, method, wire, nonce,
                   self.executor.last_block_time + TX_EXPIRY_MS)
        self.verified.remember(tx)
        self.pending.append(tx)
        return tx

    def commit(self, time: int) -> list[Receipt]:
        """One block of everything queued, at block time `time` (never before the last)."""
        executor = self.executor
        time = max(time, executor.last_block_time)
        txs, self.pending = self.pending, []
        block = make_block(CHAIN, executor.height + 1, executor.last_block_hash, time, 0, "ksd",
                           [(tx.body_bytes, tx.sig) for tx in txs])
        started = process_time()
        applied = executor.apply(block, CommitCertificate(0, block.height, block.hash, ()))
        self.apply_seconds += process_time() - started
        if self.keep_blocks:
            self.blocks.append(applied)
        return applied.receipts

    def run(self, time: int, sender: str, contract: str, method: str, **args: Any) -> Receipt:
        """One transaction in its own block; it must succeed."""
        self.send(sender, contract, method, **args)
        receipt = self.commit(time)[0]
        assert receipt.ok, receipt.error
        return receipt

    def query(self, contract: str, method: str, **args: Any) -> Any:
        return self.executor.query(self.account("fss"), contract, method, args)

    # ---- a ready market ----------------------------------------------------------------------

    def register(self, names: list[str], broker: str, time: int) -> None:
        for name in names:
            self.send_register(name, broker)
        self.check(self.commit(time))

    def send_register(self, name: str, broker: str) -> str:
        attrs = {"investor_type": "professional", "legal_form": "individual", "country": "KR",
                 "resident": True, "kyc_expires": self.genesis_time + KYC_YEARS_MS,
                 "aml_risk": "low"}
        account = self.add_investor(name)
        consent = sign_consent(self.signers[name], CHAIN, self.account(broker), "investor")
        self.send(broker, "identity", "register", account=account, role="investor",
                  attrs=attrs, consent=consent)
        return account

    def enrol(self, name: str, broker: str, symbols: dict[str, str], units: int,
              cash: int) -> str:
        """Queue the registration and funding of a new investor."""
        account = self.send_register(name, broker)
        for symbol, issuer in symbols.items():
            self.send(issuer, "token", "issue", symbol=symbol, to=account, amount=units)
        self.send("bank", "cash", "mint", to=account, amount=cash)
        return account

    def create_token(self, symbol: str, issuer: str, unit_price: int, max_supply: int,
                     time: int) -> None:
        self.send(issuer, "token", "create", symbol=symbol, name=f"{symbol} building",
                  asset_type="real_estate", unit_price=unit_price, max_supply=max_supply,
                  rules={})
        self.check(self.commit(time))
        self.send("ksd", "token", "approve", symbol=symbol, cap=max_supply)
        self.check(self.commit(time))

    def fund(self, names: list[str], symbols: dict[str, str], units: int, cash: int,
             time: int) -> None:
        """Each of `names` gets `units` of every token (symbol -> issuer) and `cash` won."""
        for name in names:
            for symbol, issuer in symbols.items():
                self.send(issuer, "token", "issue", symbol=symbol, to=self.account(name),
                          amount=units)
            self.send("bank", "cash", "mint", to=self.account(name), amount=cash)
        self.check(self.commit(time))

    @staticmethod
    def check(receipts: list[Receipt]) -> None:
        for receipt in receipts:
            assert receipt.ok, receipt.error
