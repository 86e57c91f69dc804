"""The surveillance rules S1-S10 (PROTOCOL.md, "Surveillance"): pure functions over the windows.

Each `compute_s*` takes its rule's thresholds (genesis.surveillance, where each default is
documented with its source), the windows (node.surveillance.windows, read only), what the
block brought that can trigger it, and the block time; it returns `Finding`s. A finding names
the accounts, the window, the numbers that crossed the thresholds (with the thresholds), and the
transactions behind it; the indexer turns it into an alert unless the rule already alerted on
the same subject within its window. Integers only (shares in basis points, prices in won), block
time only, and every iteration over a dict or set is sorted first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chaincode.market import KST_OFFSET_MS, Schedule, compile_sessions, kst_day
from node.clock import duration_text
from node.surveillance.windows import CashFlow, Order, Trade, Windows

DAY_MS = 86_400_000
MAX_EVIDENCE = 64  # transactions listed in one alert; the audit routes give the rest

SEVERITY = {"S1": "high", "S2": "high", "S3": "medium", "S4": "medium", "S5": "medium",
            "S6": "low", "S7": "high", "S8": "high", "S9": "medium", "S10": "medium"}
NAMES = {"S1": "wash trade (가장매매)", "S2": "matched orders (통정매매)",
         "S3": "spoofing / layering (허수성 주문)", "S4": "repeated high bids (고가매수 반복)",
         "S5": "closing-price involvement (종가 관여)",
         "S6": "participation concentration (매매 관여율)", "S7": "pump and dump",
         "S8": "insider timing (미공개정보 이용)", "S9": "cash structuring (분할 거래)",
         "S10": "shared origin (차명 의심)"}

Evidence = tuple[int, int, str]  # (height, index, tx id)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    symbol: str | None
    accounts: tuple[str, ...]  # sorted
    subject: str  # the rule alerts on a subject at most once per its window
    from_time: int
    metrics: dict[str, Any]
    evidence: tuple[Evidence, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class Disclosure:
    symbol: str
    issuer: str
    kind: str  # "document" | "dividend"
    time: int
    height: int
    index: int
    tx_id: str


@dataclass
class BlockFacts:
    """What one block brought, in block order."""

    time: int
    height: int
    orders: list[Order] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    cancelled: list[Order] = field(default_factory=list)  # by their broker (code CANCELLED)
    cash: list[CashFlow] = field(default_factory=list)
    disclosures: list[Disclosure] = field(default_factory=list)


def of_trades(trades: Iterable[Trade]) -> list[Evidence]:
    return [(t.height, t.index, t.tx_id) for t in trades]


def of_orders(orders: Iterable[Order]) -> list[Evidence]:
    return [(o.height, -1, o.tx_id) for o in orders]


def evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """Sorted, each transaction once, at most MAX_EVIDENCE."""
    seen: dict[str, Evidence] = {}
    for height, index, tx_id in sorted(items):
        seen.setdefault(tx_id, (height, index, tx_id))
    return tuple(sorted(seen.values()))[:MAX_EVIDENCE]


def bps(part: int, whole: int) -> int:
    return part * 10_000 // whole if whole else 0


def short(account: str) -> str:
    return account[:12]


# ---- S1 wash trade ---------------------------------------------------------------------------

def compute_s1(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    since = facts.time - p["link_window_ms"]
    groups: dict[tuple[str, str, str], list[tuple[Trade, Order, Order, list[str]]]] = {}
    for trade in facts.trades:
        buy, sell = w.orders.get(trade.buy_order), w.orders.get(trade.sell_order)
        if buy is None or sell is None:
            continue
        if buy.origin == sell.origin:
            shared = [buy.origin]
        else:
            shared = sorted(set(w.origins_of(trade.buyer, since))
                            & set(w.origins_of(trade.seller, since)))
        if shared:
            pair = sorted((trade.buyer, trade.seller))
            groups.setdefault((trade.symbol, pair[0], pair[1]), []).append(
                (trade, buy, sell, shared))
    findings = []
    for (symbol, first, second), rows in sorted(groups.items()):
        trades = [row[0] for row in rows]
        orders = [order for row in rows for order in row[1:3]]
        same = sum(1 for row in rows if row[1].origin == row[2].origin)
        qty = sum(t.qty for t in trades)
        findings.append(Finding(
            "S1", symbol, (first, second), f"{symbol}/{first}/{second}",
            min(o.time for o in orders),
            {"trades": len(trades), "qty": qty, "value": sum(t.qty * t.price for t in trades),
             "same_origin_trades": same, "shared_origins": sorted({o for r in rows
                                                                   for o in r[3]}),
             "link_window_ms": p["link_window_ms"]},
            evidence(of_trades(trades) + of_orders(orders)),
            f"{len(trades)} trade(s) of {qty} {symbol} between {short(first)} and "
            f"{short(second)}, whose orders came from one origin ({same} trade(s)) or who "
            "placed orders from a common origin within "
            f"{duration_text(p['link_window_ms'])}: one owner on both sides."))
    return findings


# ---- S2 matched orders -----------------------------------------------------------------------

def is_matched(w: Windows, trade: Trade, match_ms: int) -> bool:
    """Two orders of one size placed within `match_ms`, filled entirely against each other."""
    buy, sell = w.orders.get(trade.buy_order), w.orders.get(trade.sell_order)
    return (buy is not None and sell is not None and buy.qty == sell.qty == trade.qty
            and abs(buy.time - sell.time) <= match_ms)


def compute_s2(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    pairs = sorted({(t.symbol, *sorted((t.buyer, t.seller))) for t in facts.trades
                    if is_matched(w, t, p["match_ms"])})
    findings = []
    for symbol, first, second in pairs:
        since = facts.time - p["window_ms"]
        matched = [t for t in w.account_trades_since(symbol, first, since)
                   if {t.buyer, t.seller} == {first, second} and is_matched(w, t, p["match_ms"])]
        first_sells = sum(1 for t in matched if t.seller == first)
        second_sells = len(matched) - first_sells
        if len(matched) < p["min_matched"] or not first_sells or not second_sells:
            continue
        orders = [w.orders[i] for t in matched for i in (t.buy_order, t.sell_order)]
        gaps = [abs(w.orders[t.buy_order].time - w.orders[t.sell_order].time) for t in matched]
        findings.append(Finding(
            "S2", symbol, (first, second), f"{symbol}/{first}/{second}", matched[0].time,
            {"matched_trades": len(matched), "each_way": [first_sells, second_sells],
             "qty": sum(t.qty for t in matched), "max_order_gap_ms": max(gaps),
             "min_matched": p["min_matched"], "match_ms": p["match_ms"],
             "window_ms": p["window_ms"]},
            evidence(of_trades(matched) + of_orders(orders)),
            f"{short(first)} and {short(second)} traded {symbol} back and forth {len(matched)} "
            f"times ({first_sells} and {second_sells} each way) within "
            f"{duration_text(p['window_ms'])}, each time two orders of the same size placed at "
            f"most {duration_text(max(gaps))} apart (threshold {p['min_matched']} trades, "
            f"{duration_text(p['match_ms'])})."))
    return findings


# ---- S3 spoofing / layering ------------------------------------------------------------------

def compute_s3(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    findings = []
    since = facts.time - p["window_ms"]
    for symbol, account in sorted({(o.symbol, o.account) for o in facts.cancelled}):
        mean = w.mean_order_qty(symbol, excluding=account)
        quick = [o for o in w.cancelled_since(symbol, account, since)
                 if o.filled == 0 and o.closed_time - o.time <= p["cancel_ms"]
                 and o.qty >= p["size_multiple"] * mean]
        for side in ("buy", "sell"):
            layer = [o for o in quick if o.side == side]
            if len(layer) < p["min_orders"]:
                continue
            start = min(o.time for o in layer)
            other = [t for t in w.account_trades_since(symbol, account, start - p["window_ms"])
                     if (t.seller if side == "buy" else t.buyer) == account]
            if not other:
                continue
            cancelled = sum(o.qty for o in layer)
            traded = sum(t.qty for t in other)
            findings.append(Finding(
                "S3", symbol, (account,), f"{symbol}/{account}/{side}", start,
                {"side": side, "cancelled_orders": len(layer), "cancelled_qty": cancelled,
                 "mean_order_qty": mean, "max_lifetime_ms": max(o.closed_time - o.time
                                                                 for o in layer),
                 "opposite_trades": len(other), "opposite_qty": traded,
                 "min_orders": p["min_orders"], "size_multiple": p["size_multiple"],
                 "cancel_ms": p["cancel_ms"], "window_ms": p["window_ms"]},
                evidence(of_orders(layer) + of_trades(other)),
                f"{short(account)} placed {len(layer)} {side} orders of {symbol} of at least "
                f"{p['size_multiple']}x the mean size {mean} of other accounts' orders "
                f"({cancelled} in all), cancelled "
                f"each unfilled within {duration_text(p['cancel_ms'])}, while trading {traded} "
                "on the other side."))
    return findings


# ---- S4 repeated high bids -------------------------------------------------------------------

def compute_s4(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    findings = []
    since = facts.time - p["window_ms"]
    lifters = sorted({(t.symbol, t.buyer) for t in facts.trades
                      if t.aggressor == "buy" and t.price > t.prev_price})
    for symbol, account in lifters:
        ups = [t for t in w.account_trades_since(symbol, account, since)
               if t.aggressor == "buy" and t.buyer == account and t.price > t.prev_price]
        orders = sorted({t.buy_order for t in ups})
        if len(orders) < p["min_upticks"]:
            continue
        base = ups[0].prev_price
        top = max(t.price for t in ups)
        rise = bps(top - base, base)
        if rise < p["min_rise_bps"]:
            continue
        findings.append(Finding(
            "S4", symbol, (account,), f"{symbol}/{account}", ups[0].time,
            {"uptick_orders": len(orders), "from_price": base, "to_price": top,
             "rise_bps": rise, "min_upticks": p["min_upticks"],
             "min_rise_bps": p["min_rise_bps"], "window_ms": p["window_ms"]},
            evidence(of_trades(ups)),
            f"{short(account)} bought {symbol} aggressively above the last price with "
            f"{len(orders)} orders within {duration_text(p['window_ms'])}, lifting it from "
            f"{base} to {top} won ({rise} bps; thresholds {p['min_upticks']} orders, "
            f"{p['min_rise_bps']} bps)."))
    return findings


# ---- S5 closing-price involvement ------------------------------------------------------------

def compute_session_close(sessions: Any, time: int) -> int | None:
    """The UTC ms at which the session open at `time` closes (KST midnight for `always`)."""
    return compute_close(compile_sessions(sessions), time)


def compute_close(schedule: Schedule, time: int) -> int | None:
    """compute_session_close with the sessions compiled (chaincode.market.compile_sessions)."""
    local = time + KST_OFFSET_MS
    day, ms_of_day = divmod(local, DAY_MS)
    if schedule is None:
        return (kst_day(time) + 1) * DAY_MS - KST_OFFSET_MS
    windows, holidays = schedule
    if day in holidays:
        return None
    for open_ms, close_ms in windows[(day + 3) % 7]:
        if open_ms <= ms_of_day < close_ms:
            return day * DAY_MS + close_ms - KST_OFFSET_MS
    return None


def compute_s5(p: dict[str, int], w: Windows, facts: BlockFacts, schedule: Schedule
               ) -> list[Finding]:
    findings = []
    close = compute_close(schedule, facts.time)
    if close is None or facts.time < close - p["closing_ms"]:
        return findings
    for symbol in sorted({t.symbol for t in facts.trades}):
        window = [t for t in w.trades_since(symbol, close - p["closing_ms"]) if t.time < close]
        # every account that pushed in the window so far, not only this block's: another's
        # trade can carry the move over the threshold after the last push
        aggressors = {t.aggressor_account for t in window}
        volume = sum(t.qty for t in window)
        base, last = window[0].prev_price, window[-1].price
        move = bps(abs(last - base), base)
        if move < p["min_move_bps"]:
            continue
        direction = 1 if last > base else -1
        for account in sorted(aggressors):
            mine = [t for t in window if account in (t.buyer, t.seller)]
            pushes = [t for t in mine if t.aggressor_account == account]
            orders = {t.buy_order if t.aggressor == "buy" else t.sell_order for t in pushes}
            share = bps(sum(t.qty for t in mine), 2 * volume)
            pushed = sum(direction * (t.price - t.prev_price) for t in pushes)
            bought = sum(t.qty if t.buyer == account else -t.qty for t in pushes)
            if (len(orders) < p["min_trades"] or share < p["min_share_bps"]
                    or bought * direction <= 0 or 2 * pushed < abs(last - base)):
                continue
            findings.append(Finding(
                "S5", symbol, (account,), f"{symbol}/{account}/{close}", close - p["closing_ms"],
                {"close_time": close, "from_price": base, "to_price": last, "move_bps": move,
                 "share_bps": share, "aggressive_orders": len(orders), "moved_won": pushed,
                 "min_share_bps": p["min_share_bps"], "min_move_bps": p["min_move_bps"],
                 "min_trades": p["min_trades"], "closing_ms": p["closing_ms"]},
                evidence(of_trades(mine)),
                f"In the last {duration_text(p['closing_ms'])} before the close, "
                f"{short(account)} took {share} bps of {symbol}'s volume with {len(orders)} "
                f"aggressive orders that moved the price from {base} to {last} won ({move} bps; "
                f"thresholds {p['min_share_bps']} bps share, {p['min_move_bps']} bps move)."))
    return findings


# ---- S6 participation concentration ----------------------------------------------------------

def compute_s6(p: dict[str, int], symbol: str, window: list[Trade], counts: dict[str, int],
               now: int) -> list[Finding]:
    if len(window) < p["min_trades"]:
        return []
    total = sum(counts.values())  # both sides: 2 x volume (a sum: order does not matter)
    ranked = heapq.nsmallest(p["top_accounts"], ((-qty, account) for account, qty
                                                 in counts.items()))
    top = [(account, -negative) for negative, account in ranked]
    findings = []
    common = {"trades": len(window), "volume": total // 2, "window_ms": p["window_ms"],
              "min_trades": p["min_trades"]}
    account, qty = top[0]
    share = bps(qty, total)
    if share >= p["account_share_bps"]:
        trades = [t for t in window if account in (t.buyer, t.seller)]
        findings.append(Finding(
            "S6", symbol, (account,), f"{symbol}/{account}", window[0].time,
            dict(common, share_bps=share, qty=qty, account_share_bps=p["account_share_bps"]),
            evidence(of_trades(trades)),
            f"{short(account)} took part in {share} bps of {symbol}'s volume (both sides) "
            f"over {duration_text(p['window_ms'])}, {len(window)} trades (threshold "
            f"{p['account_share_bps']} bps)."))
    # the group: the top accounts each below the single-account threshold (one that is above
    # it has its own alert), at most `top_accounts` of them
    group = heapq.nsmallest(
        p["top_accounts"], ((-qty, account) for account, qty in counts.items()
                            if p["member_share_bps"] <= bps(qty, total) < p["account_share_bps"]))
    running = 0
    for k, (negative, _) in enumerate(group, start=1):
        running -= negative
        if bps(running, total) >= p["top_share_bps"]:
            if k >= 2:
                members = tuple(sorted(account for _, account in group[:k]))
                trades = [t for t in window if t.buyer in members or t.seller in members]
                findings.append(Finding(
                    "S6", symbol, members, f"{symbol}/top", window[0].time,
                    dict(common, share_bps=bps(running, total), accounts=k,
                         top_accounts=p["top_accounts"], top_share_bps=p["top_share_bps"],
                         member_share_bps=p["member_share_bps"]),
                    evidence(of_trades(trades)),
                    f"{k} accounts, each with {p['member_share_bps']} to "
                    f"{p['account_share_bps']} bps, took part in "
                    f"{bps(running, total)} bps of {symbol}'s volume (both sides) over "
                    f"{duration_text(p['window_ms'])} (threshold {p['top_share_bps']} bps for "
                    f"at most {p['top_accounts']} accounts)."))
            break
    return findings


# ---- S7 pump and dump ------------------------------------------------------------------------

def compute_s7(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    findings = []
    since = facts.time - p["window_ms"]
    for symbol, account in sorted({(t.symbol, t.seller) for t in facts.trades}):
        extremes = w.price_range(symbol, since)
        if extremes is None or bps(extremes[1] - extremes[0], extremes[0]) < p["min_rise_bps"]:
            continue  # no rise in the window to pump
        mine = w.account_trades_since(symbol, account, since)
        buys = [t for t in mine if t.buyer == account]
        if len({t.buy_order for t in buys}) < p["min_buys"]:
            continue
        first, last = buys[0].time, buys[-1].time
        sells = [t for t in mine if t.seller == account and t.time >= first]
        bought, sold = sum(t.qty for t in buys), sum(t.qty for t in sells)
        paid, got = sum(t.qty * t.price for t in buys), sum(t.qty * t.price for t in sells)
        if bps(sold, bought) < p["min_dump_bps"]:
            continue
        market = w.trades_since(symbol, first)
        during = sum(t.qty for t in market if t.time <= last)
        share = bps(bought, during)
        base = buys[0].prev_price
        peak = max(t.price for t in market)
        rise = bps(peak - base, base)
        if (share < p["min_buy_share_bps"] or rise < p["min_rise_bps"]
                or got // sold <= base):
            continue
        findings.append(Finding(
            "S7", symbol, (account,), f"{symbol}/{account}", first,
            {"buy_orders": len({t.buy_order for t in buys}), "bought": bought, "sold": sold,
             "avg_buy_price": paid // bought, "avg_sell_price": got // sold,
             "buy_share_bps": share, "from_price": base, "peak_price": peak, "rise_bps": rise,
             "dump_bps": bps(sold, bought), "min_buys": p["min_buys"],
             "min_buy_share_bps": p["min_buy_share_bps"], "min_rise_bps": p["min_rise_bps"],
             "min_dump_bps": p["min_dump_bps"], "window_ms": p["window_ms"]},
            evidence(of_trades(buys + sells)),
            f"{short(account)} bought {bought} {symbol} ({share} bps of all buying while it "
            f"bought) as the price rose {rise} bps from {base} to {peak} won, then sold {sold} "
            f"at an average {got // sold} won, above where the rise began (its average cost "
            f"{paid // bought})."))
    return findings


# ---- S8 insider timing -----------------------------------------------------------------------

def compute_s8(p: dict[str, int], w: Windows, disclosure: Disclosure, insiders: set[str]
               ) -> list[Finding]:
    since = disclosure.time - p["lookback_ms"]
    trades = [t for t in w.trades_since(disclosure.symbol, since)
              if (t.height, t.index) < (disclosure.height, disclosure.index)]
    volume = sum(t.qty for t in trades)
    net: dict[str, list[int]] = {}
    for t in trades:
        for account, sign in ((t.buyer, 1), (t.seller, -1)):
            row = net.setdefault(account, [0, 0])
            row[0] += sign * t.qty
            row[1] += sign * t.qty * t.price
    findings = []
    for account in sorted(net):
        qty, value = net[account]
        share = bps(abs(qty), volume)
        insider = account in insiders
        if not insider and (share < p["min_share_bps"] or abs(value) < p["min_value"]):
            continue
        mine = [t for t in trades if account in (t.buyer, t.seller)]
        why = ("an insider of the issuer" if insider else
               f"a net position of {share} bps of the volume (threshold {p['min_share_bps']} "
               f"bps, {p['min_value']} KRW)")
        findings.append(Finding(
            "S8", disclosure.symbol, (account,), f"{disclosure.symbol}/{account}/"
            f"{disclosure.tx_id}", since,
            {"disclosure": disclosure.kind, "disclosure_tx": disclosure.tx_id,
             "disclosure_time": disclosure.time, "insider": insider, "net_qty": qty,
             "net_value": value, "share_bps": share, "volume": volume,
             "lookback_ms": p["lookback_ms"], "min_share_bps": p["min_share_bps"],
             "min_value": p["min_value"]},
            evidence([*of_trades(mine), (disclosure.height, disclosure.index,
                                         disclosure.tx_id)]),
            f"{short(account)} traded {disclosure.symbol} (net {qty} units, {value} KRW) in "
            f"the {duration_text(p['lookback_ms'])} before the issuer's {disclosure.kind} "
            f"disclosure, as {why}."))
    return findings


# ---- S9 cash structuring ---------------------------------------------------------------------

def is_near_threshold(p: dict[str, int], amount: int) -> bool:
    return p["threshold"] * (10_000 - p["near_bps"]) // 10_000 <= amount < p["threshold"]


def compute_s9(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    findings = []
    for account in sorted({flow.account for flow in facts.cash}):
        flows = w.cash_since(account, facts.time - p["window_ms"])
        total = sum(flow.amount for flow in flows)
        if len(flows) < p["min_count"] or total < p["threshold"]:
            continue
        findings.append(Finding(
            "S9", None, (account,), account, flows[0].time,
            {"count": len(flows), "total": total, "smallest": min(f.amount for f in flows),
             "largest": max(f.amount for f in flows),
             "counterparties": sorted({f.counterparty for f in flows if f.counterparty}),
             "threshold": p["threshold"], "near_bps": p["near_bps"],
             "min_count": p["min_count"], "window_ms": p["window_ms"]},
            evidence((f.height, f.index, f.tx_id) for f in flows),
            f"{short(account)} moved {len(flows)} amounts of KRW just under the "
            f"{p['threshold']} won reporting threshold within "
            f"{duration_text(p['window_ms'])}, {total} won in all."))
    return findings


# ---- S10 shared origin -----------------------------------------------------------------------

def compute_s10(p: dict[str, int], w: Windows, facts: BlockFacts) -> list[Finding]:
    findings = []
    since = facts.time - p["window_ms"]
    for symbol, origin in sorted({(o.symbol, o.origin) for o in facts.orders}):
        accounts = tuple(w.accounts_from(symbol, origin, since))
        if len(accounts) < p["min_accounts"]:
            continue
        orders = [o for o in w.orders_from(symbol, origin) if o.time >= since]
        findings.append(Finding(
            "S10", symbol, accounts, f"{symbol}/{origin}", orders[0].time,
            {"origin": origin, "accounts": len(accounts), "orders": len(orders),
             "media": sorted({o.media for o in orders}),
             "brokers": sorted({o.broker for o in orders}),
             "min_accounts": p["min_accounts"], "window_ms": p["window_ms"]},
            evidence(of_orders(orders)),
            f"{len(accounts)} accounts placed {len(orders)} orders in {symbol} from one origin "
            f"{origin[:12]} within {duration_text(p['window_ms'])} (threshold "
            f"{p['min_accounts']})."))
    return findings
