"""S5 closing-price and S14 opening involvement, S7 pump and dump, S11 price or volume
outlier, S12 price pegging: the rules on what an owner did to a price.

S5 and S14 judge a session's close and opening minutes once they are over (the first block
after them: the indexer finds those sessions, node.surveillance.pending). S7 is triggered by the
block's sales, S11 and S12 by its trades.
"""

from __future__ import annotations

from collections.abc import Callable

from chaincode.market import kst_day
from node.clock import duration_text, kst_text
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
from node.surveillance.owners import Owner
from node.surveillance.pending import SessionCheck
from node.surveillance.records import Trade

# ---- S5 closing-price involvement and S14 opening involvement ---------------------------------


def compute_s5(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    for symbol, check in j.facts.closes:
        window = j.trades.between(symbol, check.close - p["closing_ms"], check.close)
        findings += involvement("S5", p, j, symbol, window, None, check)
    return findings


def compute_s14(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    for symbol, check in j.facts.openings:
        window = j.trades.between(symbol, check.open, check.open + p["opening_ms"])
        if window:  # the open moved from the previous close
            findings += involvement("S14", p, j, symbol, window, window[0].prev_price, check)
    return findings


def involvement(rule: str, p: dict[str, int], j: Judge, symbol: str, window: list[Trade],
                base: int | None, check: SessionCheck) -> list[Finding]:
    """Owners whose trades in `window` moved the price: S5 from before their first push to
    the close (the window's last price), S14 from the previous close (`base`) to the price
    their last push left (the opening prices they set), with a share of the volume on the
    side of the move, net of what the owner traded the other way (a market maker's bids and
    offers hit in turn come to little). A push is a trade the owner bought above the last
    price or sold below it, whichever side was the aggressor: a bid rested above the market
    and hit by an honest seller sets the price as surely as a lift (`is_push`)."""
    if not window:
        return []
    volume = sum(t.qty for t in window)
    owners = j.owners(sorted({a for t in window for a in (t.buyer, t.seller)}))
    findings = []
    for _, owner in sorted(owners.items()):
        members = set(owner.accounts)
        pushes = [t for t in window if is_push(j, t, members)]
        if not pushes:
            continue
        start = pushes[0].prev_price if base is None else base
        end = window[-1].price if base is None else pushes[-1].price
        if start == end:
            continue
        direction = 1 if end > start else -1
        mine = [t for t in pushes if direction * (t.price - t.prev_price) > 0]
        orders = sorted({t.buy_order if direction > 0 else t.sell_order for t in mine})
        side = [t for t in window if (t.buyer if direction > 0 else t.seller) in members
                and (t.seller if direction > 0 else t.buyer) not in members]
        back = sum(t.qty for t in window if (t.seller if direction > 0 else t.buyer) in members
                   and (t.buyer if direction > 0 else t.seller) not in members)
        share = bps(max(0, sum(t.qty for t in side) - back), volume)  # net: a quoter's is small
        pushed = sum(direction * (t.price - t.prev_price) for t in mine)
        move = bps(abs(end - start), start)
        left = max(end, window[-1].price) if direction > 0 else min(end, window[-1].price)
        if is_sole_mover(p, start, left, direction, pushed):
            if share < p["mover_share_bps"] or len(orders) < p["min_orders"]:
                continue
            end = left
        elif (move < p["min_move_bps"] or share < p["min_share_bps"]
                or len(orders) < p["min_orders"]
                or pushed * BPS < p["min_push_bps"] * abs(end - start)):
            continue
        findings.append(involvement_finding(rule, p, symbol, j.owner_of.fresh(owner), check,
                                            side + mine, orders, (start, end), share, pushed))
    return findings


def is_sole_mover(p: dict[str, int], start: int, left: int, direction: int, pushed: int
                  ) -> bool:
    """The owner's own pushes came to `mover_push_bps` of the start, and the price was
    `left` that far from it their way (S5: the close; S14: its last push or the last price of
    the opening minutes, the farther). Such an owner moved the price by itself, however busy
    the window: one sweep of the asks moves the open with a tenth of its volume, and honest
    sellers undoing a push between two more leave its last push short of the move it made.
    It needs only
    `mover_share_bps` of the volume; honest traders' own pushes stay under it (a marketable
    order goes at most 0.6% past the price, an institution's sweep 0.8%)."""
    return (pushed * BPS >= p["mover_push_bps"] * start
            and direction * (left - start) * BPS >= p["min_move_bps"] * start)


def is_push(j: Judge, trade: Trade, members: set[str]) -> bool:
    """The owner bought `trade` above the last price, or sold it below, from another owner:
    by its aggressive order, or by a resting one it placed beyond the last price of its time
    and ahead of its side's best (a bid over both, an offer under both). A market maker
    joining the best bid, or quoting under the last price, made no price: not its push."""
    buying = trade.buyer in members
    if buying == (trade.seller in members):
        return False
    if not (trade.price > trade.prev_price if buying else trade.price < trade.prev_price):
        return False
    if trade.aggressor == ("buy" if buying else "sell"):
        return True
    order = j.orders.get(trade.buy_order if buying else trade.sell_order)
    if order is None or not order.last_price:
        return False
    if buying:
        return order.price > order.last_price and order.price > order.best
    return order.price < order.last_price and (not order.best or order.price < order.best)


def involvement_finding(rule: str, p: dict[str, int], symbol: str, owner: Owner,
                        check: SessionCheck, trades: list[Trade], orders: list[int],
                        price: tuple[int, int], share: int, pushed: int) -> Finding:
    trades = sorted({t.trade_id: t for t in trades}.values(), key=lambda t: t.trade_id)
    accounts = participants(trades, owner)
    closing = rule == "S5"
    span = p["closing_ms"] if closing else p["opening_ms"]
    move = bps(abs(price[1] - price[0]), price[0])

    def detail() -> Detail:
        return Detail(
            {("close_time" if closing else "open_time"): check.close if closing else check.open,
             "from_price": price[0], "to_price": price[1], "move_bps": move,
             "share_bps": share, "moving_orders": len(orders), "moved_won": pushed,
             "min_share_bps": p["min_share_bps"], "min_move_bps": p["min_move_bps"],
             "min_orders": p["min_orders"], "min_push_bps": p["min_push_bps"],
             ("closing_ms" if closing else "opening_ms"): span},
            evidence(of_trades(trades)),
            f"In the {'last' if closing else 'first'} {duration_text(span)} of the session, "
            f"{', '.join(short(a) for a in accounts)} (one owner) took {share} bps of "
            f"{symbol}'s volume on the side of the move (net) with {len(orders)} moving "
            f"order(s), which moved the price {pushed} won of the way from {price[0]} to "
            f"{price[1]} ({move} bps) {'at the close' if closing else 'at the open'} "
            f"(thresholds {p['min_share_bps']} bps share, {p['min_move_bps']} bps move).",
            ids(orders), ids(t.trade_id for t in trades), price,
            tuple(owner.links_among(accounts)))
    return Finding(rule, symbol, f"{symbol}/{owner.key}/{check.open}", accounts,
                   check.close - span if closing else check.open, (share, move), detail)


# ---- S7 pump and dump ------------------------------------------------------------------------

def compute_s7(p: dict[str, int], j: Judge) -> list[Finding]:
    sellers = j.owner_of.grouped((t.symbol, t.seller) for t in j.facts.trades)
    findings = []
    for (symbol, _), owner in sorted(sellers.items()):
        found = s7_finding(p, j, symbol, owner)
        if found is not None:
            findings.append(found)
    return findings


def is_rise(trade: Trade) -> bool:
    """A buy that set a price above the last: lifting an offer, or a bid above the last that a
    seller hit (the buyer's order set the price either way)."""
    return trade.price > trade.prev_price


MAX_PUMP_WINDOWS = 4  # pump windows judged per owner and block, the owner's largest rises
# first: a decoy after the pump is one more window with a small rise, and each window judged
# reads the token's trades while it bought


def pump_windows(p: dict[str, int], now: int, pushes: list[Trade]) -> list[list[Trade]]:
    """The owner's candidate pumps: for each of its rising buys within `dump_ms` before now
    (a pump whose dump horizon is still open), its rising buys within `window_ms` before it,
    keeping only the windows no later one holds whole. Anchoring only on the last rising buy
    let two one-unit lifts a day after the pump stand for it (rt38 F5): every open window is
    judged, the largest rise its own buys made first (their steps over the last price)."""
    windows: list[tuple[int, int, int, int]] = []  # (-steps, -anchor time, first, end)
    steps = [0]
    for t in pushes:
        steps.append(steps[-1] + t.price - t.prev_price)
    first = 0
    for end, last in enumerate(pushes):
        while pushes[first].time < last.time - p["window_ms"]:
            first += 1
        later = pushes[end + 1] if end + 1 < len(pushes) else None
        if later is not None and pushes[first].time >= later.time - p["window_ms"]:
            continue  # the next rising buy's window holds this one whole
        if now - last.time <= p["dump_ms"]:
            windows.append((steps[first] - steps[end + 1], -last.time, first, end))
    return [pushes[first:end + 1] for *_, first, end in sorted(windows)[:MAX_PUMP_WINDOWS]]


def pushed_since(j: Judge, symbol: str, accounts: tuple[str, ...], since: int) -> bool:
    """Whether the owner may have a rising buy since `since` (without one it has no pump
    window): read from a tally of its last one kept across blocks, so a seller that bought
    nothing at a rise is passed over without reading its window (node.surveillance.tallies.
    LastPush). Which windows are still open is `pump_windows`'s to say."""
    tally = j.tallies.push_of(symbol, accounts)
    tally.read(j.trades.of_accounts(symbol, accounts, max(since, tally.read_to)), accounts,
               is_rise)
    return tally.time is not None and tally.time >= since


def s7_finding(p: dict[str, int], j: Judge, symbol: str, owner: Owner) -> Finding | None:
    """The owner's pump and dump: each candidate pump (`pump_windows`) judged in turn, the
    first that makes one (`judge_pump`)."""
    members = set(owner.accounts)
    since = j.now - p["dump_ms"] - p["window_ms"]
    if not pushed_since(j, symbol, owner.accounts, since):
        return None
    mine = j.trades.of_accounts(symbol, owner.accounts, since)
    bought_from = [t for t in mine if t.buyer in members and t.seller not in members]
    for pushes in pump_windows(p, j.now, [t for t in bought_from if is_rise(t)]):
        found = judge_pump(p, j, symbol, owner, mine, bought_from, pushes)
        if found is not None:
            return found
    return None


def judge_pump(p: dict[str, int], j: Judge, symbol: str, owner: Owner, mine: list[Trade],
               bought_from: list[Trade], pushes: list[Trade]) -> Finding | None:
    """The rise is the owner's when its buys set the rising prices: the span runs from its
    first buy that set a price above the last to its last (`pushes`), and its buys in the
    span count when they took offers or set a price (a bid others' sellers hit at or under
    the last is no pump: others lifted the price, F17), so a small buy hours before cannot
    stretch the span over a day's volume (F6). The rise is judged twice: from where its buys
    began to the highest trade while it bought, and by what its own rising buys moved the
    price (each one's step over the last price, at most the whole rise): a large buy early in
    a rise that others lifted made no pump (rt37 F7), however large its share of the buying.
    A sale counts up to `dump_ms` after the window's last rising buy: a thin token's price
    holds overnight, and a dump 25 hours after the pump is the same dump (rt37 F6)."""
    members = set(owner.accounts)
    if len({t.buy_order for t in pushes}) < p["min_buys"]:
        return None
    first, last = pushes[0].time, pushes[-1].time
    buys = [t for t in bought_from if first <= t.time <= last
            and (t.aggressor == "buy" or is_rise(t))]
    sells = [t for t in mine if t.seller in members and t.buyer not in members
             and t.time >= first]
    bought, sold = sum(t.qty for t in buys), sum(t.qty for t in sells)
    if not sold or bps(sold, bought) < p["min_dump_bps"]:
        return None
    during = j.trades.between(symbol, first, last + 1)
    share = bps(bought, sum(t.qty for t in during))
    base, peak = buys[0].prev_price, max(t.price for t in during)
    rise = bps(peak - base, base)
    pushed = bps(min(peak - base, sum(t.price - t.prev_price for t in buys if is_rise(t))), base)
    got = sum(t.qty * t.price for t in sells)
    if (share < p["min_buy_share_bps"] or rise < p["min_rise_bps"]
            or pushed < p["min_rise_bps"] or got // sold <= base):
        return None
    accounts = participants(buys + sells, owner)
    paid = sum(t.qty * t.price for t in buys)

    def detail() -> Detail:
        return Detail(
            {"buy_orders": len({t.buy_order for t in buys}), "bought": bought, "sold": sold,
             "avg_buy_price": paid // bought, "avg_sell_price": got // sold,
             "buy_share_bps": share, "from_price": base, "peak_price": peak,
             "rise_bps": rise, "pushed_bps": pushed, "dump_bps": bps(sold, bought),
             "min_buys": p["min_buys"],
             "min_buy_share_bps": p["min_buy_share_bps"], "min_rise_bps": p["min_rise_bps"],
             "min_dump_bps": p["min_dump_bps"], "window_ms": p["window_ms"],
             "dump_ms": p["dump_ms"]},
            evidence(of_trades(buys + sells)),
            f"{', '.join(short(a) for a in accounts)} (one owner) bought {bought} {symbol} "
            f"({share} bps of all buying while it bought), and while it bought the price rose "
            f"{rise} bps from {base} to {peak} won, {pushed} bps of it by its own buys; then "
            f"it sold {sold} at an average "
            f"{got // sold} won, above where the rise began (its average cost "
            f"{paid // bought}).",
            ids(t.buy_order for t in buys) + ids(t.sell_order for t in sells),
            ids(t.trade_id for t in buys + sells), (base, peak),
            tuple(j.owner_of.fresh(owner).links_among(accounts)))
    return Finding("S7", symbol, f"{symbol}/{owner.key}", accounts, first, (bought, sold),
                   detail)


# ---- S11 price or volume outlier -------------------------------------------------------------

def compute_s11(p: dict[str, int], j: Judge) -> list[Finding]:
    findings = []
    today = kst_day(j.now)
    for symbol in sorted({t.symbol for t in j.facts.trades}):
        stats, history = j.trades.history(symbol, today)
        history = history[-p["history_days"]:]
        if stats is None or len(history) < p["min_history_days"]:
            continue
        mean_close = sum(d.close for d in history) // len(history)
        mean_volume = sum(d.volume for d in history) // len(history)
        move = signed_bps(mean_close, stats.close)
        block = [t for t in j.facts.trades if t.symbol == symbol]
        common = {"day": today, "close": stats.close, "mean_close": mean_close,
                  "volume": stats.volume, "trades": stats.trades, "mean_volume": mean_volume,
                  "history_days": len(history), "first_time": stats.first_time}
        if abs(move) >= p["price_bps"]:
            findings.append(s11_finding(p, symbol, "price", dict(common, move_bps=move),
                                        (abs(move),), block, (mean_close, stats.close)))
        if mean_volume > 0 and stats.volume >= p["volume_multiple"] * mean_volume and (
                stats.trades >= p["min_trades"]
                or stats.volume >= p["few_trades_multiple"] * mean_volume):
            findings.append(s11_finding(p, symbol, "volume", dict(
                common, multiple_x100=stats.volume * 100 // mean_volume), (stats.volume,),
                block, (mean_close, stats.close)))
    return findings


def s11_finding(p: dict[str, int], symbol: str, kind: str, metrics: dict[str, int],
                measure: tuple[int, ...], block: list[Trade], price: tuple[int, int]
                ) -> Finding:
    def detail() -> Detail:
        what = (f"its last price {metrics['close']} is {metrics.get('move_bps')} bps from the "
                f"mean close {metrics['mean_close']} of its last {metrics['history_days']} "
                f"trading days (threshold {p['price_bps']} bps)" if kind == "price" else
                f"today's volume {metrics['volume']} is {metrics['multiple_x100']}/100 times "
                f"the mean {metrics['mean_volume']} of its last {metrics['history_days']} "
                f"trading days (threshold {p['volume_multiple']}x)")
        return Detail(dict(metrics, kind=kind, price_bps=p["price_bps"],
                           volume_multiple=p["volume_multiple"], min_trades=p["min_trades"],
                           few_trades_multiple=p["few_trades_multiple"]),
                      evidence(of_trades(block)),
                      f"{symbol} on KST day {metrics['day']}: {what}. The first extraction "
                      "stage: the token and the period for the participation rules.",
                      (), ids(t.trade_id for t in block), price)
    return Finding("S11", symbol, f"{symbol}/{metrics['day']}/{kind}", (),
                   metrics["first_time"], measure, detail)


# ---- S12 price pegging -----------------------------------------------------------------------

def compute_s12(p: dict[str, int], j: Judge) -> list[Finding]:
    buyers = j.owner_of.grouped((t.symbol, t.buyer) for t in j.facts.trades)
    windows: dict[str, list[Trade]] = {}

    def window_of(symbol: str) -> list[Trade]:
        if symbol not in windows:
            windows[symbol] = j.trades.since(symbol, j.now - p["window_ms"])
        return windows[symbol]

    findings = []
    for (symbol, _), owner in sorted(buyers.items()):
        found = s12_finding(p, j, symbol, owner, window_of)
        if found is not None:
            findings.append(found)
    return findings


def s12_finding(p: dict[str, int], j: Judge, symbol: str, owner: Owner,
                window_of: Callable[[str], list[Trade]]) -> Finding | None:
    """The owner's bids that sellers hit at its lowest price in the window (its level), when
    the price never went more than `level_bps` under that level while the owner held it
    (from its first such fill to its last: where the price was before, and where it fell
    once let go, say nothing against a peg; nor does one sale that took all of the owner's
    bids and went on below them: the bids were too few, the level was not let go; nor the
    owner's own sale under it: one unit sold into an honest bid would veto an hour of held
    bids) and the owner bought most of what traded at or under it then.

    The owner's trades with others come from its tally (node.surveillance.tallies: read as
    they come, not from the token's window per buying owner each block, which was 40% of
    surveillance in the market bench); the token's window is read only for an owner with
    enough bids held at its level."""
    members = set(owner.accounts)
    since = j.now - p["window_ms"]
    tally = j.tallies.owner_of(symbol, owner.accounts, j.stamp)
    tally.cut(since, members)
    tally.read(j.trades.of_accounts(symbol, owner.accounts, max(since, tally.read_to)), members)
    passive = list(tally.passive)  # window order
    if not passive:
        return None
    low = min(t.price for t in passive)
    held = [t for t in passive if t.price <= low]  # window order; not `in passive`
    orders = sorted({t.buy_order for t in held})
    near = j.pending.near_peg_date(symbol, j.now)
    if len(orders) < (p["min_orders_event"] if near else p["min_orders"]):
        return None
    window = window_of(symbol)
    floor = low - low * p["level_bps"] // BPS
    held_span = [t for t in window if passive[0].trade_id <= t.trade_id <= passive[-1].trade_id]
    swept = {t.tx_id for t in passive}  # a sale that took the owner's bids and went on
    if any(t.price < floor and t.tx_id not in swept and t.seller not in members
           for t in held_span):
        return None  # the level broke (the owner's own sale under it breaks nothing)
    level = [t for t in held_span if t.price <= low]
    bought, sold = tally.bought, tally.sold
    quoted = low + low * p["quote_bps"] // BPS  # an offer above this caps nothing
    offered = sum(o.qty for a in owner.accounts for o in j.orders.of_account(a)
                  if o.symbol == symbol and o.side == "sell" and o.price <= quoted
                  and o.time >= j.now - p["window_ms"])
    share = bps(sum(t.qty for t in held), sum(t.qty for t in level))
    if share < p["min_share_bps"] or bps(max(sold, offered), bought) > p["max_sold_bps"]:
        return None  # a quoter offering what it buys does not hold the price up
    ceiling = low
    accounts = participants(held, owner)
    bids = [o for i in orders if (o := j.orders.get(i)) is not None]

    def detail() -> Detail:
        event = {} if near is None else {"event_time": near[0], "event": near[1]}
        return Detail(
            dict(event, level_low=low, level_high=ceiling, level_trades=len(level),
                 held_orders=len(orders), share_bps=share, bought=bought, sold=sold,
                 min_orders=p["min_orders"], min_orders_event=p["min_orders_event"],
                 min_share_bps=p["min_share_bps"], level_bps=p["level_bps"],
                 window_ms=p["window_ms"]),
            evidence(of_trades(held) + of_orders(bids)),
            f"{', '.join(short(a) for a in accounts)} (one owner) held {symbol} at "
            f"{low}-{ceiling} won with {len(orders)} buy orders within "
            f"{duration_text(p['window_ms'])}, taking {share} bps of what traded there and "
            f"selling {sold} of {bought} bought"
            + (f", {near[1]} at {kst_text(near[0])}" if near else "") + ".",
            ids(orders), ids(t.trade_id for t in held), (window[0].prev_price, window[-1].price),
            tuple(j.owner_of.fresh(owner).links_among(accounts)))
    return Finding("S12", symbol, f"{symbol}/{owner.key}", accounts, held[0].time,
                   (len(orders), sum(t.qty for t in held)), detail,
                   "high" if near else None)
