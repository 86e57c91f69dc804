"""The cluster under test: started (or found with --dir), set up with investors and a token,
and followed through its block events."""


from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chaincode.identity import sign_consent
from consensus import codec
from consensus.crypto import TX_DOMAIN, Signer
from node.bench.config import (
    BLOCK_PAGE,
    EXPIRY_MS,
    SETUP_BATCH,
    SYMBOL,
    UNITS_PER_ACCOUNT,
    Options,
)
from node.bench.load import Http, envelope, pack_batch
from node.bench.measure import cpu_seconds, parse_metrics
from node.rpc.auth import sign_request

BROKERS = ("broker-a", "broker-b")  # the consortium's brokers; investor i is registrar(i)'s


def registrar(index: int) -> str:
    """The broker that registers investor `index` of the setup: the two take turns."""
    return BROKERS[index % len(BROKERS)]


class Bench:
    """A cluster ready for load: keys, connections and the investor accounts."""

    def __init__(self, directory: Path, progress: Callable[[str], None]) -> None:
        from genesis.builder import load_keyfile
        from node.tools import cluster as clustermod

        self.dir = directory
        self.progress = progress
        info = clustermod.read_cluster(directory)
        self.chain_id: str = info["chain_id"]
        self.nodes = [entry for entry in info["nodes"] if entry["role"] == "operator"]
        self.urls = [entry["rpc"] for entry in self.nodes]
        self.pids = {entry["name"]: int(entry["pid"]) for entry in self.nodes if entry["pid"]}
        self.keys = {org: load_keyfile(str(directory / "keys" / f"{org}.json"))
                     for org in ("ksd", "fss", "broker-a", "issuer-1")}
        self.http = Http(self.urls[0], self.chain_id)
        self.seeds: list[bytes] = []
        self.brokers: list[str] = []  # the organisation that registered seeds[i]

    def status(self) -> dict[str, Any]:
        return self.http.request("GET", "/v1/status")[1]

    def key(self, org: str) -> Signer:
        """An organisation's admin key from DIR/keys (loaded on first use)."""
        if org not in self.keys:
            from genesis.builder import load_keyfile

            self.keys[org] = load_keyfile(str(self.dir / "keys" / f"{org}.json"))
        return self.keys[org]

    def _post_until_admitted(self, envelopes: list[bytes], deadline: float) -> None:
        """POST /v1/txs; what is refused for lack of room (mempool_full: one sender's share
        of a busy pool) is sent again a moment later, as a client should."""
        while envelopes:
            status, answer = self.http.request("POST", "/v1/txs", pack_batch(envelopes))
            if status == 503 and time.monotonic() < deadline:  # the node's pool is full: the
                time.sleep(0.5)  # whole batch is refused for now (PROTOCOL "Batches")
                continue
            if status != 200:
                raise RuntimeError(f"setup batch refused: {status} {answer}")
            retry = []
            for sent, item in zip(envelopes, answer, strict=True):
                if "error" not in item:
                    continue
                if item["error"]["code"] != "mempool_full" or time.monotonic() > deadline:
                    raise RuntimeError(f"setup transaction refused: {item['error']}")
                retry.append(sent)
            envelopes = retry
            if envelopes:
                time.sleep(0.5)

    def submit_and_wait(self, signer: Signer, calls: list[tuple[str, str, dict[str, Any]]],
                        timeout_s: float = 120.0) -> None:
        """Submit signed calls in batches and wait until each has an ok receipt."""
        expires = int(time.time() * 1000) + EXPIRY_MS
        ids = []
        for start in range(0, len(calls), SETUP_BATCH):
            chunk = calls[start:start + SETUP_BATCH]
            envelopes = []
            for contract, method, args in chunk:
                body = codec.pack({"v": 1, "chain": self.chain_id, "sender": signer.public_key,
                                   "nonce": int.from_bytes(os.urandom(8), "big"),
                                   "expires": expires, "contract": contract, "method": method,
                                   "args": args})
                envelopes.append(envelope(body, signer.sign(TX_DOMAIN, body)))
                ids.append(codec.sha256(body).hex())
            self._post_until_admitted(envelopes, time.monotonic() + timeout_s)
        deadline = time.monotonic() + timeout_s
        for tx_id in ids:
            while True:
                status, receipt = self.http.request("GET", f"/v1/tx/{tx_id}")
                if status == 200 and receipt.get("status") == "committed":
                    if not receipt.get("ok"):
                        raise RuntimeError(f"setup transaction failed: {receipt.get('error')}")
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"setup transaction {tx_id} not committed in time")
                time.sleep(0.05)

    def prepare(self, accounts: int) -> None:
        """Register investors, create, approve and issue the token (once per cluster).

        Investor i is registered by `registrar(i)` (`self.brokers[i]`), as the consortium's
        clients are spread over its two brokers: transfers are signed by the investors and do
        not care, but an order is its broker's transaction (node/bench/market.py)."""
        self.progress(f"setup: registering {accounts} investors, creating {SYMBOL}")
        signers = [Signer.generate() for _ in range(accounts)]
        self.seeds = [signer.seed for signer in signers]
        self.brokers = [registrar(i) for i in range(accounts)]
        kyc_expires = int(time.time() * 1000) + 365 * 86_400_000
        attrs = {"investor_type": "professional", "legal_form": "individual", "country": "KR",
                 "resident": True, "kyc_expires": kyc_expires, "aml_risk": "low"}
        for org in BROKERS:
            broker = self.key(org)
            self.submit_and_wait(broker, [
                ("identity", "register", {
                    "account": s.account, "role": "investor", "attrs": attrs,
                    "consent": sign_consent(s, self.chain_id, broker.account, "investor")})
                for s, registrar in zip(signers, self.brokers, strict=True) if registrar == org])
        status, _ = self.http.request("POST", "/v1/query", codec.pack(
            {"contract": "token", "method": "info", "args": {"symbol": SYMBOL}}),
            self.keys["fss"])
        if status != 200:  # a fresh cluster: create and approve the token
            supply = accounts * UNITS_PER_ACCOUNT * 16
            self.submit_and_wait(self.keys["issuer-1"], [("token", "create", {
                "symbol": SYMBOL, "name": "benchmark units", "asset_type": "other",
                "unit_price": 1, "max_supply": supply,
                "rules": {"lockup_ms": 0, "max_holders": 0,
                          "allowed_investor_types": ["general", "qualified", "professional",
                                                     "corporate"],
                          "allowed_countries": [], "max_holding_bps": 0,
                          "issuer_annual_limit": 0}})])
            self.submit_and_wait(self.keys["ksd"], [
                ("token", "approve", {"symbol": SYMBOL, "cap": supply})])
        self.submit_and_wait(self.keys["issuer-1"], [
            ("token", "issue", {"symbol": SYMBOL, "to": s.account, "amount": UNITS_PER_ACCOUNT})
            for s in signers])

    def blocks(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        """Blocks start..stop as `GET /v1/blocks` gives them, read a page at a time by the
        regulator."""
        for first in range(start, stop + 1, BLOCK_PAGE):
            last = min(stop, first + BLOCK_PAGE - 1)
            status, answer = self.http.request("GET", f"/v1/blocks?from={first}&to={last}",
                                               signer=self.keys["fss"])
            if status != 200:
                raise RuntimeError(f"reading blocks {first}..{last}: {status} {answer}")
            yield from answer["blocks"]

    def fetch_blocks(self, start: int, stop: int
                     ) -> list[tuple[int, list[bytes], list[tuple[bytes, bool]]]]:
        blocks = []
        for block in self.blocks(start, stop):
            carried = [bytes.fromhex(tx["tx_id"]) for tx in block["transactions"]
                       if "tx_id" in tx]
            receipts = [(bytes.fromhex(r["tx_id"]), bool(r["ok"])) for r in block["receipts"]]
            blocks.append((block["header"]["height"], carried, receipts))
        return blocks

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def metrics(self) -> dict[str, dict[str, float]]:
        """Each node's `/metrics` samples (node.bench.measure.parse_metrics)."""
        found = {}
        for entry in self.nodes:
            with urllib.request.urlopen(entry["rpc"] + "/metrics", timeout=30) as response:
                found[entry["name"]] = parse_metrics(response.read().decode())
        return found


@contextlib.contextmanager
def cluster_for(options: Options, nodes: int | None, progress: Callable[[str], None]
                ) -> Iterator[Bench]:
    """The cluster of `--dir`, or a temporary one of `nodes` operators, stopped by pid and
    removed afterwards (kept with --keep)."""
    import shutil
    import tempfile

    from node.tools import cluster as clustermod

    temporary = None
    if options.directory:
        directory = Path(options.directory)
    else:
        temporary = Path(tempfile.mkdtemp(prefix=f"stoledger-bench-{nodes}n-"))
        directory = temporary / "net"
    bench = None
    try:
        if temporary is not None:
            progress(f"starting a {nodes}-node cluster in {directory}")
            clustermod.up(directory, n=nodes or 4, progress=lambda line: None)
        bench = Bench(directory, progress)
        yield bench
    finally:
        if bench is not None:
            bench.http.close()
        if temporary is not None and (directory / "cluster.json").exists():
            clustermod.down(directory, progress=lambda line: None)  # by pid, even when
            # `up` failed half-way: it records each pid as it starts the node
            if options.keep:
                progress(f"kept {directory}")
            else:
                shutil.rmtree(temporary, ignore_errors=True)



# -- block events ---------------------------------------------------------------------------------

class BlockWatcher(threading.Thread):
    """Follows `GET /v1/events` of one node; records (arrival, txs) per block height and keeps
    the count of committed txs in a shared counter for the load process's window."""

    def __init__(self, url: str, chain_id: str, counter: Any, signer: Signer) -> None:
        super().__init__(name="bench-blocks", daemon=True)
        self.url = url
        self.chain_id = chain_id
        self.counter = counter
        self.signer = signer  # a registered key (streams are for registered accounts)
        self.arrivals: dict[int, tuple[float, int]] = {}
        self.connected = threading.Event()
        self.error: BaseException | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._stop = False

    def run(self) -> None:
        try:
            self._follow()
        except BaseException as error:  # reported by the caller
            if not self._stop:
                self.error = error
        finally:
            self.connected.set()

    def _follow(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        self._conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=3600)
        path = "/v1/events?only=block"  # block events alone: nothing per transaction
        auth = sign_request(self.signer, self.chain_id, "GET", path, int(time.time() * 1000))
        self._conn.request("GET", path, headers={"Authorization": auth})
        response = self._conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"/v1/events answered {response.status}")
        event = ""
        while not self._stop:
            line = response.readline()
            if not line:
                return
            if line.startswith(b": connected"):
                self.connected.set()
            elif line.startswith(b"event: "):
                event = line[7:].strip().decode()
            elif line.startswith(b"data: ") and event == "block":
                now = time.monotonic()
                data = json.loads(line[6:])
                self.arrivals[int(data["height"])] = (now, int(data["txs"]))
                with self.counter.get_lock():
                    self.counter.value += int(data["txs"])

    def stop(self) -> None:
        self._stop = True
        if self._conn is not None:
            with contextlib.suppress(OSError):
                if self._conn.sock is not None:
                    self._conn.sock.shutdown(2)
            self._conn.close()
