"""Reading one applied block into surveillance's memory and the block's facts.

The events of the block's begin-block hooks come first (orders the market expired at a session's
close), then receipts in block order, events in receipt order, rejected transactions skipped. An
event is known by the contract that emitted it and its name (PROTOCOL.md, "Built-in contracts"),
whatever transaction called that contract: the orders `token.force_transfer` and `fds.hold`
cancel through the market are the market's `OrderCancelled`s.
- market: `OrderPlaced` (with the broker-attested `origin` from the transaction's arguments,
  the best price of its side and the last price at that moment), `Trade`, `OrderCancelled`
  (an order cancelled EXPIRED ended at its session's close, not at the later block whose hook
  expired it); after each receipt, its orders still open rest on the book
  (node.surveillance.orders);
- cash: a client's `CashTransfer` (no memo: not a settlement, dividend or recovery), `Minted`
  (a deposit) and `Burned` (a withdrawal) are cash movements (S9); a client's transfer links
  its two accounts (owners);
- token: a `Transfer` without a `trade_id` (units moved outside the market) links its two
  accounts; `Recovered` links the old key to the new one for good;
- identity: `Registered` and `Updated` refresh the account's entry in the insider index from its
  identity record (`insider_of`), as the state stands after the block;
- material information (S8, `MATERIAL`): a document, a dividend, an offering opened or
  allocated, a cap approval, a redemption, a halt, a forced transfer, and a freeze or an FDS
  hold of an insider of the token's issuer. Each waits for its price effect (S8's unusual
  positions); a dividend's record date, an offering's subscription end and a redemption's
  record date are remembered for S12.
The offering contract's events are read by the names and shapes PROTOCOL gives them (a `symbol`
in each), so they count once that contract runs; the FDS contract's `Held` names its `account`
(chaincode.fds).
"""

from __future__ import annotations

import sys
from typing import Any

from chaincode.market import compile_sessions, compute_session, session_bounds
from consensus import codec
from node.ledger.executor import AppliedBlock
from node.storage import KV
from node.storage import schema as s
from node.surveillance.facts import BlockFacts
from node.surveillance.flows import CashFlows
from node.surveillance.orders import Orders
from node.surveillance.owners import RECOVER, TRANSFER, OwnerGraph
from node.surveillance.pending import Insiders, MaterialEvent, Pending
from node.surveillance.records import Flow, Order, Trade, flow_seq
from node.surveillance.rules.sessions import compute_session_bounds
from node.surveillance.trades import Trades

MATERIAL = {("token", "DocumentSet"): "document", ("dividend", "DividendDeclared"): "dividend",
            ("offering", "OfferingOpened"): "offering_opened",
            ("offering", "OfferingAllocated"): "offering_allocated",
            ("token", "CapApproved"): "cap_approval",
            ("offering", "RedemptionDeclared"): "redemption", ("market", "MarketHalted"): "halt",
            ("token", "ForcedTransfer"): "forced_transfer", ("token", "Frozen"): "freeze",
            ("fds", "Held"): "hold"}
OF_AN_INSIDER = frozenset({"freeze", "hold"})  # material only when the account is an insider
PEG_DATES = {("dividend", "DividendDeclared"): ("record_time", "record date"),
             ("offering", "OfferingOpened"): ("end_time", "offering"),
             ("offering", "RedemptionDeclared"): ("record_time", "redemption")}
MAX_ISSUER_TOKENS = 1_000  # tokens of one issuer a hold of its insider makes news for


class Reader:
    """Feeds one block's receipts into the windows, the owner graph and the block's facts."""

    def __init__(self, store: KV, sessions: Any, orders: Orders, trades: Trades,
                 flows: CashFlows, owners: OwnerGraph, insiders: Insiders, pending: Pending
                 ) -> None:
        self.store = store
        self.sessions = sessions
        self.schedule = compile_sessions(sessions)
        self.orders = orders
        self.trades = trades
        self.flows = flows
        self.owners = owners
        self.insiders = insiders
        self.pending = pending
        self.writes: dict[str, bytes | None] = {}

    def read(self, applied: AppliedBlock, facts: BlockFacts) -> None:
        self.writes = applied.writes
        for event in applied.hook_events:
            if event.get("contract") == "market":
                self._market(event.get("name"), event.get("data") or {}, {}, facts, -1, "")
        for tx, receipt in zip(applied.txs, applied.receipts, strict=True):
            if not receipt.ok:
                continue
            tx_id = receipt.tx_id.hex()
            for seq, event in enumerate(receipt.events):
                contract, name = event.get("contract"), event.get("name")
                data = event.get("data") or {}
                if contract == "market":
                    self._market(name, data, tx.args, facts, receipt.index, tx_id)
                elif contract == "cash":
                    self._cash(name, data, tx.contract, facts,
                               flow_seq(facts.height, receipt.index, seq), receipt.index, tx_id)
                elif contract == "token" and name in ("Transfer", "Recovered"):
                    self._token_link(name, data, facts.time, tx_id)
                elif contract == "identity" and name in ("Registered", "Updated"):
                    self._refresh_insider(str(data["account"]), facts.time)
                key = (contract, name)
                if key in MATERIAL:
                    self._material(MATERIAL[key], data, facts, receipt.index, tx_id)
                if key in PEG_DATES and isinstance(data.get(PEG_DATES[key][0]), int):
                    self.pending.peg_date(str(data["symbol"]), data[PEG_DATES[key][0]],
                                          PEG_DATES[key][1])
            self.orders.rest()

    # ---- market ------------------------------------------------------------------------------

    def _market(self, name: Any, data: dict[str, Any], args: dict[str, Any], facts: BlockFacts,
                index: int, tx_id: str) -> None:
        if name == "OrderPlaced":
            self._placed(data, args, facts, index, tx_id)
        elif name == "Trade":
            self._traded(data, facts, index, tx_id)
        elif name == "OrderCancelled":
            order_id, code = int(data["order_id"]), str(data["code"])
            ended = self._ended(order_id, code, facts.time)
            self.orders.cancel(order_id, ended, code)
            order = self.orders.get(order_id)
            if order is not None and order.closed_time == ended and order.tif == "gtc":
                facts.removed.append(order)

    def _ended(self, order_id: int, code: str, time: int) -> int:
        """When a cancelled order ended: at its session's close when it EXPIRED there (the
        market expires it in the hook of the first block after the close), else now."""
        order = self.orders.get(order_id)
        if code != "EXPIRED" or order is None or not order.session:
            return time
        session = session_bounds(self.schedule, order.session)
        if session is None or session.close_ms is None:
            return time
        return min(time, session.close_ms)

    def _placed(self, data: dict[str, Any], args: dict[str, Any], facts: BlockFacts,
                index: int, tx_id: str) -> None:
        symbol, side = str(data["symbol"]), str(data["side"])
        session = compute_session(self.sessions, facts.time)
        origin = args.get("origin")
        order = Order(int(data["order_id"]), symbol, account_id(data["account"]),
                      account_id(data["broker"]), side, int(data["price"]), int(data["qty"]),
                      str(data.get("tif", "gtc")), str(data["media"]),
                      origin if isinstance(origin, str) else "",
                      0 if session is None else session,
                      self.orders.best(symbol, 0 if session is None else session, side),
                      self.trades.last_price.get(symbol, 0), facts.time, facts.height, index,
                      tx_id)
        self.orders.place(order)
        if not order.is_staff and order.origin:
            self.owners.use(order.account, order.origin, facts.time)
        facts.orders.append(order)

    def _traded(self, data: dict[str, Any], facts: BlockFacts, index: int, tx_id: str) -> None:
        symbol, price = str(data["symbol"]), int(data["price"])
        trade = Trade(int(data["trade_id"]), symbol, price, int(data["qty"]),
                      account_id(data["buyer"]), account_id(data["seller"]),
                      int(data["buy_order"]), int(data["sell_order"]), str(data["aggressor"]),
                      self.trades.last_price.get(symbol, price), facts.time, facts.height,
                      index, tx_id)
        bounds = compute_session_bounds(self.schedule, facts.time)
        if bounds is not None:
            earlier = self.pending.session_traded(symbol, bounds)
            if earlier is not None:  # the token's first trade of a new session
                facts.closes.append((symbol, earlier))
                if earlier.opening_due:
                    facts.openings.append((symbol, earlier))
        self.trades.add(trade)
        self.owners.traded(trade.buyer, trade.seller)
        self.orders.fill(trade.buy_order, trade.qty, facts.time)
        self.orders.fill(trade.sell_order, trade.qty, facts.time)
        facts.trades.append(trade)

    # ---- cash and links ----------------------------------------------------------------------

    def _cash(self, name: Any, data: dict[str, Any], tx_contract: str, facts: BlockFacts,
              seq: int, index: int, tx_id: str) -> None:
        if name == "CashTransfer":
            if data.get("memo") is not None or tx_contract != "cash":
                return  # a settlement, an escrow, a dividend, a recovery: not a client's
            sender, recipient = account_id(data["from"]), account_id(data["to"])
            self.owners.link(TRANSFER, sender, recipient, facts.time, tx_id,
                             int(data["amount"]))
        elif name == "Minted":
            sender, recipient = None, account_id(data["to"])
        elif name == "Burned":
            sender, recipient = account_id(data["from"]), None
        else:
            return
        flow = Flow(seq, sender, recipient, int(data["amount"]), facts.time, facts.height,
                    index, tx_id)
        self.flows.add(flow)
        facts.flows.append(flow)

    def _token_link(self, name: str, data: dict[str, Any], time: int, tx_id: str) -> None:
        if name == "Transfer" and data.get("trade_id") is None:
            symbol = str(data.get("symbol"))
            price = self.trades.last_price.get(symbol)  # None: never traded
            if price is None:  # a never-traded token is worth its issue price, else nothing
                unit_price = (self.state(f"token/meta/{symbol}") or {}).get("unit_price")
                price = unit_price if isinstance(unit_price, int) else 0
            self.owners.link(TRANSFER, account_id(data["from"]), account_id(data["to"]), time,
                             tx_id, price * int(data["amount"]))
        elif name == "Recovered":
            self.owners.link(RECOVER, account_id(data["old"]), account_id(data["new"]), time,
                             tx_id)

    # ---- state, insiders and material events --------------------------------------------------

    def state(self, key: str) -> Any:
        """A state value as the block left it (its writes, else the store)."""
        raw = self.writes[key] if key in self.writes else self.store.get(s.state_key(key))
        return codec.unpack(raw) if raw else None

    def _refresh_insider(self, account: str, time: int) -> None:
        record = self.state(s.identity_record(account)) or {}
        issuers = (record.get("attrs") or {}).get("insider_of") or []
        self.insiders.refresh(account, sorted(i for i in issuers if isinstance(i, str)),
                              time)

    def _material(self, kind: str, data: dict[str, Any], facts: BlockFacts, index: int,
                  tx_id: str) -> None:
        account = account_id(data["account"]) if isinstance(data.get("account"), str) else ""
        if kind == "hold":
            symbols = self._tokens_of_issuers(sorted(self.insiders.of_account.get(account, ())))
        else:
            symbols = [str(data["symbol"])]
        for symbol in symbols:
            token = self.state(f"token/meta/{symbol}") or {}
            issuer = token.get("issuer")
            if not isinstance(issuer, str):
                continue
            issuers = tuple(k for k in (issuer, token.get("issuer_id")) if isinstance(k, str))
            if kind in OF_AN_INSIDER and not self.insiders.is_insider(account, issuers):
                continue
            event = MaterialEvent(symbol, issuer, kind, facts.time, facts.height, index, tx_id,
                                  self.trades.last_price.get(symbol, 0), account)
            facts.material.append(event)
            self.pending.wait_for_effect(event)

    def _tokens_of_issuers(self, issuers: list[str]) -> list[str]:
        found: set[str] = set()
        for issuer in issuers:
            prefix = f"token/issuer/{issuer}/"
            for raw, _ in self.store.iterate(s.state_key(prefix)):
                found.add(s.state_name(raw)[len(prefix):])
                if len(found) >= MAX_ISSUER_TOKENS:
                    break
            found |= {key[len(prefix):] for key, value in self.writes.items()
                      if key.startswith(prefix) and value}
        return sorted(found)


def account_id(value: Any) -> str:
    """An account id from an event, interned: the same 64 characters are kept once however
    many records name them."""
    return sys.intern(str(value))
