"""S6 participation and S13 order involvement, S8 insider timing, S9 cash structuring: the rules
on an owner's share of a market, of what happened before news, and of cash just under the
reporting threshold.

S6 is triggered by the block's trades, S13 by its orders, S9 by its cash movements; S8 by its
material events (insiders) and, for unusual positions, by the price effect of earlier events
that are still waiting for it (node.surveillance.pending), judged on each block that trades
the token.
"""

from __future__ import annotations

import heapq
from dataclasses import replace

from chaincode.market import kst_day
from node.clock import duration_text
from node.surveillance.facts import (
    BPS,
    Detail,
    Finding,
    Judge,
    bps,
    evidence,
    ids,
    of_orders,
    of_trades,
    participants,
    short,
    signed_bps,
)
from node.surveillance.owners import CASH_KINDS, Owner
from node.surveillance.pending import MaterialEvent
from node.surveillance.records import Flow, Order, Trade
from node.surveillance.tallies import CashDay, CashTally

# ---- S6 participation concentration ----------------------------------------------------------


def owner_volumes(j: Judge, volumes: dict[str, int]) -> dict[str, tuple[int, Owner | None]]:
    """Owner key -> (qty bought and sold, the owner or None for a lone account)."""
    found: dict[str, tuple[int, Owner | None]] = {}
    for account in sorted(volumes):
        if j.owner_of.graph.is_alone(account):
            found[account] = (volumes[account], None)
            continue
        owner = j.owner_of.lasting(account)
        qty, _ = found.get(owner.key, (0, owner))
        found[owner.key] = (qty + volumes[account], owner)
    return found


def compute_s6(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    for symbol in sorted({t.symbol for t in j.facts.trades}):
        trades, volumes = j.trades.participation_of(symbol)
        if trades < p["min_trades"]:
            continue
        owners = owner_volumes(j, volumes)
        total = sum(volumes.values())  # both sides: twice the volume
        fair = BPS // len(owners)
        top = heapq.nsmallest(p["top_accounts"], ((-qty, key) for key, (qty, _) in
                                                  owners.items()))
        qty, key = -top[0][0], top[0][1]
        share = bps(qty, total)
        if (share >= p["account_share_bps"] and share >= p["fair_multiple"] * fair
                and orders_in(j, p, symbol, members_of(key, owners)) >= p["min_orders"]):
            findings.append(s6_finding(p, j, symbol, [key], owners, share, trades, total))
        if trades < p["group_min_trades"]:
            continue
        group = [(-q, k) for q, k in top
                 if p["member_share_bps"] <= bps(-q, total) < p["account_share_bps"]]
        running = 0
        for size, (qty, _) in enumerate(group, start=1):
            running += qty
            together = bps(running, total)
            if size >= 2 and together >= p["top_share_bps"] and \
                    together >= p["fair_multiple"] * size * fair:
                findings.append(s6_finding(p, j, symbol, [k for _, k in group[:size]], owners,
                                           together, trades, total))
                break
    return findings


def members_of(key: str, owners: dict[str, tuple[int, Owner | None]]) -> tuple[str, ...]:
    owner = owners[key][1]
    return (key,) if owner is None else owner.accounts


def orders_in(j: Judge, p: dict[str, int], symbol: str, accounts: tuple[str, ...]) -> int:
    """How many of the accounts' orders traded in the participation window (a tally of them
    kept across blocks: node.surveillance.tallies.TradedOrders)."""
    since = j.now - p["window_ms"]
    tally = j.tallies.traded_of(symbol, accounts, j.stamp)
    tally.cut(since)
    tally.read(j.trades.of_accounts(symbol, accounts, max(since, tally.read_to)), accounts)
    return len(tally.orders)


def s6_finding(p: dict[str, int], j: Judge, symbol: str, keys: list[str],
               owners: dict[str, tuple[int, Owner | None]], share: int, trades: int,
               total: int) -> Finding:
    """One owner's concentration names the owner; the top owners' together names the token
    (KRX designates the token, 소수계좌 거래집중: the first extraction stage, as S11), with
    each owner's accounts and share in its metrics for the examiner: a market maker or an
    institution that is merely among the largest is not accused with the one that made the
    concentration."""
    members = [account for key in keys for account in members_of(key, owners)]
    _, volumes = j.trades.participation_of(symbol)
    accounts = tuple(sorted(a for a in members if a in volumes))
    group = len(keys) > 1
    since = j.now - p["window_ms"]

    def detail() -> Detail:
        mine = j.trades.of_accounts(symbol, accounts, since)
        links = [link for key in keys if (kept := owners[key][1]) is not None
                 and (owner := j.owner_of.fresh(kept)) is not None
                 for link in owner.links_among([a for a in accounts if a in owner.accounts])]
        return Detail(
            {"trades": trades, "volume": total // 2, "share_bps": share, "owners": len(keys),
             **({"top_owners": [{"accounts": [a for a in members_of(key, owners)
                                              if a in volumes],
                                 "share_bps": bps(owners[key][0], total)} for key in keys]}
                if group else {}),
             "participants": len(owners), "window_ms": p["window_ms"],
             "min_trades": p["min_trades"], "fair_multiple": p["fair_multiple"],
             "account_share_bps": p["account_share_bps"], "top_share_bps": p["top_share_bps"],
             "member_share_bps": p["member_share_bps"], "top_accounts": p["top_accounts"]},
            evidence(of_trades(mine)),
            (f"{symbol}'s top {len(keys)} owners (in top_owners), each with "
             f"{p['member_share_bps']} to {p['account_share_bps']} bps," if group else
             f"{', '.join(short(a) for a in accounts)} (one owner)")
            + f" took part in {share} bps of {symbol}'s volume (buys and sells) over "
            f"{duration_text(p['window_ms'])}, {trades} trades among {len(owners)} owners "
            "(thresholds "
            f"{p['top_share_bps'] if group else p['account_share_bps']} bps and "
            f"{p['fair_multiple']}x an equal share).",
            (), ids(t.trade_id for t in mine), None, tuple(links))
    if group:
        return Finding("S6", symbol, f"{symbol}/top", (), since, (share * total // BPS,),
                       detail)
    return Finding("S6", symbol, f"{symbol}/{keys[0]}", accounts, since,
                   (share * total // BPS,), detail)


# ---- S13 order involvement -------------------------------------------------------------------

def compute_s13(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    for symbol in sorted({o.symbol for o in j.facts.orders}):
        counts = j.orders.activity_of(symbol)
        total = sum(row[1] for row in counts.values())
        fair = BPS // max(1, len(counts))
        owners = j.owners(sorted({o.account for o in j.facts.orders if o.symbol == symbol}))
        for _, owner in sorted(owners.items()):
            rows = [counts[a] for a in owner.accounts if a in counts]
            placed, qty, traded, net = (sum(row[i] for row in rows) for i in range(4))
            share = bps(abs(net), total)  # one-sided: a two-sided quoter's orders cancel out
            crowded = (placed >= p["min_orders"] and share >= p["order_share_bps"]
                       and share >= p["fair_multiple"] * fair)
            chatty = (placed >= p["otr_min_orders"]
                      and placed >= p["max_otr"] * max(1, traded)
                      and (bps(abs(net), qty) >= p["otr_side_bps"]  # the tally: one side
                           or one_sided_bps(p, j, symbol, owner) >= p["otr_side_bps"]))
            if crowded or chatty:
                findings.append(s13_finding(p, j, symbol, owner, placed, qty, traded, share,
                                            len(counts)))
    return findings


def is_quote(p: dict[str, int], order: Order) -> bool:
    """Placed within `near_bps` of the token's last price (or, none yet, its side's best)."""
    reference = order.last_price or order.best
    return not reference or abs(order.price - reference) * BPS < p["near_bps"] * reference


def one_sided_bps(p: dict[str, int], j: Judge, symbol: str, owner: Owner) -> int:
    """The share of the owner's quantity ordered in the window that is no two-sided quote:
    all of it less twice the smaller side of what it ordered near the market (`is_quote`).
    A market maker quoting both sides at the touch comes to little; a flood far from the
    market, on one side or both, or netted by one giant order far off, to all of it. At
    least the tally's one-sided share (|bought - sold| over all), so it is asked only when
    that share is under the bar for an owner over the order-to-trade gates: its orders of
    the window are read then (a market maker quoting all day is read each block it quotes;
    the tally does not know how far an order was from the market)."""
    since = j.now - p["window_ms"]
    orders = [o for a in owner.accounts for o in j.orders.of_account(a)
              if o.symbol == symbol and o.time >= since]
    near = {side: sum(o.qty for o in orders if o.side == side and is_quote(p, o))
            for side in ("buy", "sell")}
    qty = sum(o.qty for o in orders)
    return bps(qty - 2 * min(near["buy"], near["sell"]), qty)


def s13_finding(p: dict[str, int], j: Judge, symbol: str, owner: Owner, placed: int, qty: int,
                traded: int, share: int, accounts_placing: int) -> Finding:
    counts = j.orders.activity_of(symbol)
    accounts = tuple(sorted(a for a in owner.accounts if a in counts))
    since = j.now - p["window_ms"]

    def detail() -> Detail:
        orders = [o for a in accounts for o in j.orders.of_account(a)
                  if o.symbol == symbol and o.time >= since]
        return Detail(
            {"orders": placed, "qty": qty, "traded_orders": traded, "share_bps": share,
             "order_to_trade_x100": placed * 100 // max(1, traded),
             "accounts_placing": accounts_placing, "order_share_bps": p["order_share_bps"],
             "fair_multiple": p["fair_multiple"], "min_orders": p["min_orders"],
             "max_otr": p["max_otr"], "otr_min_orders": p["otr_min_orders"],
             "window_ms": p["window_ms"]},
            evidence(of_orders(orders)),
            f"{', '.join(short(a) for a in accounts)} (one owner) placed {placed} orders of "
            f"{symbol} ({share} bps of the quantity ordered by {accounts_placing} accounts) "
            f"within {duration_text(p['window_ms'])}, {traded} of which traded (thresholds "
            f"{p['order_share_bps']} bps, or {p['max_otr']} orders per order that traded).",
            ids(o.order_id for o in orders), (), None,
            tuple(j.owner_of.fresh(owner).links_among(accounts)))
    return Finding("S13", symbol, f"{symbol}/{owner.key}", accounts, since, (placed, qty),
                   detail)


# ---- S8 insider timing -----------------------------------------------------------------------

def before(trades: list[Trade], event: MaterialEvent) -> list[Trade]:
    return [t for t in trades if (t.height, t.index) < (event.height, event.index)]


def compute_s8(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    for event in j.facts.material:
        findings += insider_findings(p, j, event)
    for symbol in sorted({t.symbol for t in j.facts.trades}):
        last = j.trades.last_price.get(symbol, 0)
        for event in j.pending.waiting(symbol):
            if moved(p, event.price_before, last):
                findings += unusual_findings(p, j, event, event.price_before, last)
                j.settled.append(event)
    for event in j.facts.lapsed:
        findings += run_up_findings(p, j, event)
    return findings


def moved(p: dict[str, int], start: int, last: int) -> bool:
    return bool(start) and abs(signed_bps(start, last)) >= p["min_effect_bps"]


def run_up_findings(p: dict[str, int], j: Judge, event: MaterialEvent) -> list[Finding]:
    """An event whose effect window ended with the price under `min_effect_bps` from the last
    price before it, judged from the price `run_up_ms` before it: when the information leaked,
    the buying before the news moved the price first and the news itself moved it little."""
    start = j.trades.price_at(event.symbol, event.time - p["run_up_ms"])
    last = j.trades.last_price.get(event.symbol, 0)
    return unusual_findings(p, j, event, start, last) if moved(p, start, last) else []


def insider_findings(p: dict[str, int], j: Judge, event: MaterialEvent) -> list[Finding]:
    """Every owner with an account that was an insider of the issuer within the lookback, and
    its insider trades before the event (`insider_trades`). High when their value reaches
    `insider_min_value`, else medium: a small insider trade is shown to an examiner, not held
    (rt37 F5b)."""
    since = event.time - p["lookback_ms"]
    spans = j.insiders.was_insider(event.issuer, since)
    payees = {f.recipient for insider in spans for f in j.flows.outflows(insider, since)
              if f.recipient is not None}
    findings = []
    for _, owner in sorted(j.owners(sorted(set(spans) | payees)).items()):
        trades, funded = as_insider(p, j, event, owner, spans, since)
        if trades:
            findings.append(s8_finding(p, j, event, owner, trades, True, None, funded))
    return findings


def as_insider(p: dict[str, int], j: Judge, event: MaterialEvent, owner: Owner,
               spans: dict[str, tuple[int, int]], since: int) -> tuple[list[Trade], bool]:
    """The owner's insider trades (`insider_trades`), else those of its accounts that traded
    the insiders' money (`funded_trades`: True, medium at most), else none."""
    trades = insider_trades(j, event, owner, spans, since)
    if trades:
        return trades, False
    trades = funded_trades(p, j, event, owner, spans, since)
    return trades, bool(trades)


def funded_trades(p: dict[str, int], j: Judge, event: MaterialEvent, owner: Owner,
                  spans: dict[str, tuple[int, int]], since: int) -> list[Trade]:
    """The trades before the event of each account the insiders paid, within the lookback,
    at least `funded_share_bps` of what it traded in the token, when that reached
    `insider_min_value` (rt38 F4: a nominee buying with the insider's 29M was no insider; a
    clerk's salary stays under the share, and a small buy with it under the value)."""
    found: list[Trade] = []
    for account in owner.accounts:
        paid = sum(f.amount for f in j.flows.inflows(account, since) if f.sender in spans)
        mine = [t for t in before(j.trades.of_accounts(event.symbol, (account,), since), event)
                if account in (t.buyer, t.seller)]
        value = sum(t.qty * t.price for t in mine)
        if value >= p["insider_min_value"] and paid * BPS >= p["funded_share_bps"] * value:
            found += mine
    return sorted(set(found), key=lambda t: (t.height, t.index, t.trade_id))


def insider_trades(j: Judge, event: MaterialEvent, owner: Owner,
                   spans: dict[str, tuple[int, int]], since: int) -> list[Trade]:
    """The owner's trades before the event made by an account while it, or an account it
    shares a device or a key with (its owner by origins and recoveries: the insider's
    nominee), was an insider. The status judged is the one it traded with: a resignation
    between the trades and the news hides nothing, and a trade before the appointment is no
    insider's. The status does not spread along payments (rt37 F5b: a clerk paid by the
    officer's employer, or by the officer, trades as itself; its trades are judged as an
    unusual position)."""
    held: dict[str, list[tuple[int, int]]] = {}
    for account in owner.accounts:
        device = j.owner_of(account, CASH_KINDS).accounts
        held[account] = [spans[other] for other in device if other in spans]
    return [t for t in before(j.trades.of_accounts(event.symbol, owner.accounts, since), event)
            if any(start <= t.time <= end for account in (t.buyer, t.seller)
                   for start, end in held.get(account, ()))]


def unusual_findings(p: dict[str, int], j: Judge, event: MaterialEvent, start: int, last: int
                     ) -> list[Finding]:
    trades = before(j.trades.since(event.symbol, event.time - p["lookback_ms"]), event)
    volume = sum(t.qty for t in trades)
    direction = 1 if last > start else -1
    net: dict[str, int] = {}
    for t in trades:
        net[t.buyer] = net.get(t.buyer, 0) + t.qty
        net[t.seller] = net.get(t.seller, 0) - t.qty
    since = event.time - p["lookback_ms"]
    spans = j.insiders.was_insider(event.issuer, since)
    findings = []
    for _, owner in sorted(j.owners(sorted(net)).items()):
        members = set(owner.accounts)
        mine = [t for t in trades if (t.buyer in members) != (t.seller in members)]
        if as_insider(p, j, event, owner, spans, since)[0]:
            continue  # judged at the event, as an insider (trades before it became one: here)
        qty = sum(t.qty if t.buyer in members else -t.qty for t in mine)
        value = sum(t.qty * t.price if t.buyer in members else -t.qty * t.price for t in mine)
        if (qty * direction <= 0 or bps(abs(qty), volume) < p["min_share_bps"]
                or abs(value) < p["min_value"]):
            continue
        findings.append(s8_finding(p, j, event, owner, mine, False, (start, last)))
    return findings


def s8_finding(p: dict[str, int], j: Judge, event: MaterialEvent, owner: Owner,
               trades: list[Trade], insider: bool, effect: tuple[int, int] | None,
               funded: bool = False) -> Finding:
    members = set(owner.accounts)
    accounts = participants(trades, owner)
    qty = sum(t.qty if t.buyer in members else -t.qty for t in trades)
    value = sum(t.qty * t.price if t.buyer in members else -t.qty * t.price for t in trades)
    window_start = event.time - p["lookback_ms"]
    volume = sum(t.qty for t in before(j.trades.since(event.symbol, window_start), event))
    gross = sum(t.qty * t.price for t in trades)
    held = insider and not funded and gross >= p["insider_min_value"]

    def detail() -> Detail:
        why = ("an account paid by an insider of the issuer, with that money" if funded
               else "an insider of the issuer (identity insider_of)" if insider or effect is None
               else f"a net position of {bps(abs(qty), volume)} bps of the volume (threshold "
               f"{p['min_share_bps']} bps, {p['min_value']} KRW), and the price moved from "
               f"{effect[0]} to {effect[1]} won")
        return Detail(
            {"event": event.kind, "event_tx": event.tx_id, "event_time": event.time,
             "insider": insider, "net_qty": qty, "net_value": value,
             "share_bps": bps(abs(qty), volume), "volume": volume,
             "lookback_ms": p["lookback_ms"], "min_share_bps": p["min_share_bps"],
             "min_value": p["min_value"], "gross_value": gross,
             "insider_min_value": p["insider_min_value"], "min_effect_bps": p["min_effect_bps"],
             "effect_ms": p["effect_ms"], "run_up_ms": p["run_up_ms"]},
            evidence([*of_trades(trades), (event.height, event.index, event.tx_id)]),
            f"{', '.join(short(a) for a in accounts)} (one owner) traded {event.symbol} (net "
            f"{qty} units, {value} KRW) in the {duration_text(p['lookback_ms'])} before the "
            "issuer's "
            f"{event.kind.replace('_', ' ')} (material information), as {why}"
            + ("." if held or not insider else f", {gross} KRW in all (under "
               f"{p['insider_min_value']} KRW: medium)."),
            ids(i for t in trades for i in (t.buy_order, t.sell_order)
                if (t.buyer if i == t.buy_order else t.seller) in members),
            ids(t.trade_id for t in trades),
            effect,
            tuple(j.owner_of.fresh(owner).links_among(accounts)))
    kind = "insider" if insider else "unusual"
    return Finding("S8", event.symbol, f"{event.symbol}/{owner.key}/{event.tx_id}/{kind}",
                   accounts, window_start, (abs(value),), detail,
                   None if held else "medium")  # an insider's of insider_min_value: high


# ---- S9 cash structuring ---------------------------------------------------------------------

def is_near(p: dict[str, int], amount: int) -> bool:
    return p["threshold"] * (BPS - p["near_bps"]) // BPS <= amount < p["threshold"]


Unit = tuple[int, list[Flow]]  # (amount, movements)


def units(p: dict[str, int], day: CashDay, direction: str) -> list[Unit]:
    """(amount, movements) of each unit of one day: the day's total near the threshold; else,
    of a day whose total passed it, each counterparty's day total near it (PROTOCOL
    "per-recipient totals": 5.0M + 4.6M to one recipient is one 9.6M unit; withdrawals or
    deposits count as one counterparty), else each near single amount. Inflows: a day's total
    near the threshold is a unit only when it was deposited; a transfer received is the
    sender's act, and counts only in a day whose receipts passed the threshold in pieces just
    under it (the collector of a fan-in), so a landlord's rents, one a day, are no recipient's
    structuring. The sums are the tally's (node.surveillance.tallies.CashDay)."""
    if is_near(p, day.total) and (direction == "out" or not day.senders):
        return [(day.total, list(day.flows))]
    if day.total >= p["threshold"]:
        return per_counterparty(p, day) or padded(p, day, direction)
    return []


def padded(p: dict[str, int], day: CashDay, direction: str) -> list[Unit]:
    """An outflow day over the threshold with no unit of a counterparty: its total without
    the movements smaller than the `near_bps` band, when near the threshold (rt37 F14: 9.5M in
    halves to two nominees, passed over the threshold by a 600,000 transfer)."""
    near = direction == "out" and is_near(p, day.kept_total)
    return [(day.kept_total, list(day.kept))] if near else []


def is_kept(p: dict[str, int], amount: int) -> bool:
    return amount * BPS >= p["threshold"] * p["near_bps"]


def per_counterparty(p: dict[str, int], day: CashDay) -> list[Unit]:
    found: list[Unit] = []
    for other in sorted(day.parties):
        party = day.parties[other]
        if is_near(p, party.total):
            found.append((party.total, list(party.flows)))
        else:
            found += [(f.amount, [f]) for f in party.near]
    return found


def compute_s9(p: dict[str, int], j: Judge) -> list[Finding]:
    """Each owner's units both ways, twice: the owner linked by origins and recoveries, whose
    transfers to anyone else count (a transfer is what S9 judges, so it cannot be the link
    that hides it), and, where transfers link more accounts, the owner linked by them too,
    whose movements leaving it count (withdrawals, and transfers to accounts outside it):
    structuring split over accounts that paid each other; inflows the same way round."""
    findings = []
    slow = {**p, "window_ms": p["slow_window_ms"], "min_count": p["slow_min_count"]}
    for (direction, key), owner in sorted(touched_owners(j).items()):
        for tier in (p, slow):  # a week's units, else a month's more of them (rt37 F14)
            found = owner_units(tier, j, direction, owner)
            total = sum(amount for amount, _ in found)
            if len(found) >= tier["min_count"] and total >= p["threshold"]:
                finding = s9_finding(tier, direction, key, owner, found, total)
                if direction == "in" and not is_moved_on(p, j, owner, found):
                    finding = replace(finding, severity="low")
                if not (key.startswith("linked/") and is_one_cash_owner(j, finding.accounts)):
                    findings.append(finding)
                break
    return findings


def is_moved_on(p: dict[str, int], j: Judge, owner: Owner,
                found: list[tuple[int, list[Flow]]]) -> bool:
    """Whether receipts are the owner's act: a unit deposited (by the owner), or at least
    `threshold` moved out of the owner (withdrawn, or paid to others) since the first of them.
    Receipts of distinct senders alone are not (rt38 F3: three tenants' rents on one day put
    the landlord on a withdrawal hold); a fan-in's collector moves the money on."""
    if any(all(f.sender is None for f in flows) for _, flows in found):
        return True
    first = min(f.time for _, flows in found for f in flows)
    members = set(owner.accounts)
    out = sum(f.amount for account in owner.accounts
              for f in j.flows.outflows(account, first) if f.recipient not in members)
    return out >= p["threshold"]


def owner_units(p: dict[str, int], j: Judge, direction: str, owner: Owner) -> list[Unit]:
    """The owner's units of `direction` within `window_ms`, movements within it left out:
    each day's, kept with the day's sums across blocks until a movement comes or leaves."""
    tally = cash_tally(p, j, direction, owner)
    found = []
    for key in sorted(tally.days):
        day = tally.days[key]
        if day.units is None:
            day.units = units(p, day, direction)
        found += day.units
    return found if direction == "out" else one_per_sender(found)


def cash_tally(p: dict[str, int], j: Judge, direction: str, owner: Owner) -> CashTally:
    """The owner's tally, its front cut at the window's start and the movements since the
    last one it read added (a bisection per account, then only the new movements)."""
    since = j.now - p["window_ms"]
    tally = j.tallies.cash_of(
        (direction, owner.accounts, p["window_ms"]), j.flows.evicted,
        lambda: CashTally(direction, frozenset(owner.accounts), lambda a: is_near(p, a),
                          lambda a: is_kept(p, a), j.flows.evicted))
    tally.cut(since, kst_day)
    new: dict[int, Flow] = {}
    for account in owner.accounts:
        for flow in moves(j, direction, account, max(since, tally.read_to)):
            if flow.seq > tally.last:
                new[flow.seq] = flow
    tally.read((new[seq] for seq in sorted(new)), kst_day)
    return tally


def one_per_sender(found: list[Unit]) -> list[Unit]:
    """Receipts: at most one unit of each sender. A sender's repeated amounts just under the
    threshold are its own structuring (its outflows' alert), not the recipient's: a stranger's
    three 9.5M transfers frame no recipient (rt37 F13); a fan-in collector's units come from
    several senders, a depositor's from none."""
    kept, senders = [], set()
    for amount, flows in found:
        sender = flows[0].sender
        if sender is not None and all(f.sender == sender for f in flows):
            if sender in senders:
                continue
            senders.add(sender)
        kept.append((amount, flows))
    return kept


def is_one_cash_owner(j: Judge, accounts: tuple[str, ...]) -> bool:
    """Whether accounts linked by transfers acted within one origin-linked owner (which the
    first pass reports: the same structuring is one alert, not two)."""
    return set(accounts) <= set(j.owner_of(accounts[0], CASH_KINDS).accounts)


def touched_owners(j: Judge) -> dict[tuple[str, str], Owner]:
    """(direction, subject) -> owner, for the owners of the block's movements; a sender's
    receipts too (money it moves on may make them a fan-in it collected: `is_moved_on`)."""
    touched: dict[tuple[str, str], Owner] = {}
    for flow in j.facts.flows:
        for direction, account in (("out", flow.sender), ("in", flow.recipient),
                                   ("in", flow.sender)):
            if account is None:
                continue
            cash = j.owner_of(account, CASH_KINDS)
            touched.setdefault((direction, cash.key), cash)
            linked = j.owner_of(account)
            if len(linked.accounts) > len(cash.accounts):
                touched.setdefault((direction, f"linked/{linked.key}"), linked)
    return touched


def moves(j: Judge, direction: str, account: str, since: int) -> list[Flow]:
    return (j.flows.outflows(account, since) if direction == "out" else
            j.flows.inflows(account, since))


def s9_finding(p: dict[str, int], direction: str, key: str, owner: Owner,
               found: list[tuple[int, list[Flow]]], total: int) -> Finding:
    flows = [flow for _, group in found for flow in group]
    members = set(owner.accounts)
    mine = [(f.sender if direction == "out" else f.recipient) for f in flows]
    accounts = tuple(sorted({a for a in mine if a in members}))

    def detail() -> Detail:
        others = sorted({other for f in flows
                         if (other := f.recipient if direction == "out" else f.sender)})
        amounts = [amount for amount, _ in found]
        return Detail(
            {"direction": direction, "units": len(found), "total": total,
             "smallest": min(amounts), "largest": max(amounts), "movements": len(flows),
             "counterparties": others, "threshold": p["threshold"], "near_bps": p["near_bps"],
             "min_count": p["min_count"], "window_ms": p["window_ms"]},
            evidence((f.height, f.index, f.tx_id) for f in flows),
            f"{', '.join(short(a) for a in accounts)} (one owner) "
            f"{'sent or withdrew' if direction == 'out' else 'received or deposited'} "
            f"{len(found)} amounts of KRW (single amounts or a day's total) just under the "
            f"{p['threshold']} won reporting threshold within "
            f"{duration_text(p['window_ms'])}, {total} won "
            f"in all, in {len(flows)} movements.",
            links=tuple(owner.links_among(accounts)))
    return Finding("S9", None, f"{direction}/{key}", accounts, flows[0].time,
                   (total, len(found)), detail)
