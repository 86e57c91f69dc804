"""The surveillance indexer: committed blocks in, alerts out, in the block's own batch.

`Surveillance(store, params)` is an executor indexer (node.ledger.executor.Indexer). For each
applied block it (1) prunes the windows to the block's time, (2) reads the block's receipts into
records - orders (`market.place`: the OrderPlaced event, with the broker-attested `origin` from the
transaction's arguments), fills and cancellations (Trade, OrderCancelled), plain cash transfers
and deposits near the reporting threshold (CashTransfer without a memo, Minted), issuer
disclosures (DocumentSet, DividendDeclared) - (3) runs the rules S1-S10 (node.surveillance.rules)
on what the block triggered, (4) writes each new alert, its indexes and the windows' changes into
the block's batch, and (5) leaves the new alerts on `applied.notes["alerts"]` for the event hub.

An alert's id is sha256(canonical [rule, symbol, accounts, window start]); a rule alerts on one
subject (an account, a pair, an origin) at most once per its window. Nothing a rule or an
alert sees comes from a clock or the node's configuration beyond genesis: the alerts are a pure
function of the chain, so a restarted node (the windows are reloaded from the store) and one
that caught up by state transfer (the same blocks through the same executor) hold the same
alerts, byte for byte.

Metering. `meter` counts what surveillance costs this node: the CPU time of its thread in
`__call__` (time.thread_time_ns, the one clock read here) and the blocks, orders and trades it
read. It is node-local, like the node's other metrics (`/metrics`, node.metrics): it goes into
no batch, no alert and no rule, and a restart sets it back to zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chaincode.market import MARKET_DEFAULTS, compile_sessions
from consensus import codec
from genesis.surveillance import check_surveillance_params
from node.ledger.executor import AppliedBlock
from node.storage import KV, Batch
from node.storage import schema as s
from node.surveillance import rules
from node.surveillance.rules import BlockFacts, Disclosure, Finding
from node.surveillance.windows import CashFlow, Order, Trade, Windows

ALL = "*"


def compute_alert_id(rule: str, symbol: str | None, accounts: tuple[str, ...],
                     from_time: int) -> bytes:
    return codec.sha256(codec.pack([rule, symbol or "", list(accounts), from_time]))


@dataclass(slots=True)
class Meter:
    """What surveillance cost this node since it started (never stored or hashed)."""

    cpu_ns: int = 0  # CPU time of the applying thread inside the indexer
    blocks: int = 0
    orders: int = 0  # OrderPlaced events read
    trades: int = 0  # Trade events read

    def record(self, cpu_ns: int, facts: BlockFacts) -> None:
        self.cpu_ns += cpu_ns
        self.blocks += 1
        self.orders += len(facts.orders)
        self.trades += len(facts.trades)


class Surveillance:
    """An executor indexer keeping the surveillance windows and writing alerts."""

    def __init__(self, store: KV, params: dict[str, Any] | None = None) -> None:
        chain_params = params or {}
        self.store = store
        self.params = check_surveillance_params(chain_params.get("surveillance"))
        market = dict(MARKET_DEFAULTS)
        market.update(chain_params.get("market") or {})
        self.schedule = compile_sessions(market["sessions"])
        p = self.params
        self.windows = Windows(
            order_horizon_ms=max(p["S1"]["link_window_ms"], p["S2"]["window_ms"],
                                 p["S3"]["window_ms"], p["S10"]["window_ms"]),
            trade_horizon_ms=max(p["S2"]["window_ms"], p["S4"]["window_ms"],
                                 p["S5"]["closing_ms"], p["S6"]["window_ms"],
                                 p["S7"]["window_ms"], p["S8"]["lookback_ms"]),
            cash_horizon_ms=p["S9"]["window_ms"],
            participation_ms=p["S6"]["window_ms"])
        self.windows.load(store)
        self.meter = Meter()

    def __call__(self, applied: AppliedBlock, batch: Batch) -> None:
        started_ns = time.thread_time_ns()
        header = applied.block.header
        facts = BlockFacts(header.time, header.height)
        self.windows.prune(header.time, header.height)
        self._read(applied, facts)
        findings = self._run(applied, facts)
        alerts = self._write(findings, facts, batch)
        self.windows.stage(batch)
        applied.notes["alerts"] = alerts
        self.meter.record(time.thread_time_ns() - started_ns, facts)

    # ---- reading the block -------------------------------------------------------------------

    def _read(self, applied: AppliedBlock, facts: BlockFacts) -> None:
        near = self.params["S9"]
        for event in applied.hook_events:  # before the transactions: orders expired at a close
            if event.get("contract") == "market":
                self._market_event(event.get("name"), event.get("data") or {}, {}, facts, -1,
                                   "")
        for tx, receipt in zip(applied.txs, applied.receipts, strict=True):
            if not receipt.ok:
                continue
            tx_id = receipt.tx_id.hex()
            for seq, event in enumerate(receipt.events):
                name, data = event.get("name"), event.get("data") or {}
                if tx.contract == "market":
                    self._market_event(name, data, tx.args, facts, receipt.index, tx_id)
                elif name in ("CashTransfer", "Minted") and tx.contract == "cash":
                    if name == "CashTransfer" and data.get("memo") is not None:
                        continue  # trade settlements and recoveries, not a client's transfer
                    amount = int(data["amount"])
                    if not rules.is_near_threshold(near, amount):
                        continue
                    who, other = ((data["from"], data["to"]) if name == "CashTransfer"
                                  else (data["to"], None))
                    flow = CashFlow(who, other, amount,
                                    "transfer" if name == "CashTransfer" else "deposit",
                                    facts.time, facts.height, receipt.index, seq, tx_id)
                    self.windows.add_cash(flow)
                    facts.cash.append(flow)
                elif name in ("DocumentSet", "DividendDeclared"):
                    facts.disclosures.append(Disclosure(
                        str(data["symbol"]), tx.sender_hex,
                        "document" if name == "DocumentSet" else "dividend",
                        facts.time, facts.height, receipt.index, tx_id))

    def _market_event(self, name: Any, data: dict[str, Any], args: dict[str, Any],
                      facts: BlockFacts, index: int, tx_id: str) -> None:
        w = self.windows
        if name == "OrderPlaced":
            origin = args.get("origin")
            order = Order(int(data["order_id"]), str(data["symbol"]), str(data["account"]),
                          str(data["broker"]), str(data["side"]), int(data["price"]),
                          int(data["qty"]), str(data["media"]),
                          origin if isinstance(origin, str) else "", facts.time, facts.height,
                          tx_id)
            w.add_order(order)
            facts.orders.append(order)
        elif name == "Trade":
            symbol = str(data["symbol"])
            price = int(data["price"])
            trade = Trade(int(data["trade_id"]), symbol, price, int(data["qty"]),
                          str(data["buyer"]), str(data["seller"]), int(data["buy_order"]),
                          int(data["sell_order"]), str(data["aggressor"]),
                          w.last_price.get(symbol, price), facts.time, facts.height, index,
                          tx_id)
            w.add_trade(trade)
            w.fill_order(trade.buy_order, trade.qty, facts.time)
            w.fill_order(trade.sell_order, trade.qty, facts.time)
            facts.trades.append(trade)
        elif name == "OrderCancelled":
            order_id = int(data["order_id"])
            w.cancel_order(order_id, facts.time, str(data["code"]))
            cancelled = w.orders.get(order_id)
            if cancelled is not None and data["code"] == "CANCELLED":
                facts.cancelled.append(cancelled)

    # ---- rules -------------------------------------------------------------------------------

    def _run(self, applied: AppliedBlock, facts: BlockFacts) -> list[Finding]:
        p, w = self.params, self.windows
        found: list[Finding] = []
        if facts.trades:
            found += rules.compute_s1(p["S1"], w, facts)
            found += rules.compute_s2(p["S2"], w, facts)
            found += rules.compute_s4(p["S4"], w, facts)
            found += rules.compute_s5(p["S5"], w, facts, self.schedule)
            for symbol in sorted({t.symbol for t in facts.trades}):
                window, counts = w.participation_window(symbol, facts.time)
                found += rules.compute_s6(p["S6"], symbol, list(window), counts, facts.time)
            found += rules.compute_s7(p["S7"], w, facts)
        if facts.cancelled:
            found += rules.compute_s3(p["S3"], w, facts)
        for disclosure in facts.disclosures:
            found += rules.compute_s8(p["S8"], w, disclosure,
                                      self._insiders(applied, disclosure))
        if facts.cash:
            found += rules.compute_s9(p["S9"], w, facts)
        if facts.orders:
            found += rules.compute_s10(p["S10"], w, facts)
        return [f for f in found if p[f.rule]["enabled"]]

    def _insiders(self, applied: AppliedBlock, disclosure: Disclosure) -> set[str]:
        """Accounts that traded the token in the lookback whose identity record names the
        issuer in `insider_of`, as the state stood when the disclosure's block was applied."""
        since = disclosure.time - self.params["S8"]["lookback_ms"]
        accounts = sorted({a for t in self.windows.trades_since(disclosure.symbol, since)
                           for a in (t.buyer, t.seller)})
        found = set()
        for account in accounts:
            key = s.identity_record(account)
            raw = applied.writes[key] if key in applied.writes else \
                self.store.get(s.state_key(key))
            record = codec.unpack(raw) if raw else None
            insider_of = (record or {}).get("attrs", {}).get("insider_of") or []
            if isinstance(insider_of, list) and disclosure.issuer in insider_of:
                found.add(account)
        return found

    # ---- alerts ------------------------------------------------------------------------------

    def window_of(self, rule: str) -> int:
        p = self.params[rule]
        for name in ("window_ms", "link_window_ms", "closing_ms", "lookback_ms"):
            if name in p:
                return p[name]
        raise AssertionError(f"rule {rule} has no window")

    def _write(self, findings: list[Finding], facts: BlockFacts, batch: Batch
               ) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        written: set[bytes] = set()
        for finding in findings:
            last = self.windows.last_fired(finding.rule, finding.subject)
            if last is not None and facts.time - last < self.window_of(finding.rule):
                continue
            alert_id = compute_alert_id(finding.rule, finding.symbol, finding.accounts,
                                        finding.from_time)
            if alert_id in written or self.store.get(s.surv_alert_key(alert_id)) is not None:
                continue
            written.add(alert_id)
            self.windows.mark_fired(finding.rule, finding.subject, facts.time)
            alert = to_alert(alert_id, finding, facts)
            seq = len(alerts)
            batch.put(s.surv_alert_key(alert_id), codec.pack(alert))
            subjects = [("*", ALL), ("rule", finding.rule)]
            if finding.symbol is not None:
                subjects.append(("sym", finding.symbol))
            subjects += [("acct", account) for account in finding.accounts]
            for kind, subject in subjects:
                batch.put(s.surv_index_key(kind, subject, facts.height, seq), alert_id)
            alerts.append(alert)
        return alerts


def to_alert(alert_id: bytes, finding: Finding, facts: BlockFacts) -> dict[str, Any]:
    return {"alert_id": alert_id.hex(), "rule": finding.rule, "name": rules.NAMES[finding.rule],
            "severity": rules.SEVERITY[finding.rule], "symbol": finding.symbol,
            "accounts": list(finding.accounts),
            "window": {"from_time": finding.from_time, "to_time": facts.time},
            "height": facts.height,
            "heights": sorted({height for height, _, _ in finding.evidence}),
            "metrics": finding.metrics,
            "evidence": [tx_id for _, _, tx_id in finding.evidence],
            "explanation": finding.explanation}


def read_alert(store: KV, alert_id: bytes) -> dict[str, Any] | None:
    raw = store.get(s.surv_alert_key(alert_id))
    if raw is None:
        return None
    alert: dict[str, Any] = codec.unpack(raw)
    return alert
