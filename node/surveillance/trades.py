"""The trades surveillance keeps, and what is derived from them.

Each trade is mirrored under `v/t/<symbol>\\x00<trade_id>`; `load` rebuilds everything else from
the trades retained (and the clock of the last block read), so what the rules read is the same
on a live and on a restarted node:
- per token and per (token, account), the trades in time order (`Timeline`);
- the participation window (S6): per token, the trades within `participation_ms` and each
  account's traded quantity in it (buys plus sells);
- per token, the statistics of its last trading days (S11): close, volume, trades, high, low,
  `v/d/` keys of their own, the last `history_days` + 1 days;
- per token, the last trade price (`v/p/`);
- per (token, owner's accounts), the trades among them in a window (S1), kept as blocks arrive
  (`among`): memory only, exact, rebuilt whenever it could be stale.
Trades go after `horizon_ms`, in the block that went past it, and every index forgets them in
the same step. Beyond Limits.trades (all tokens' together) the (token, account) that is in the
most trades gives its oldest (caps.Holdings), so a flood of trading never drops another's
evidence, in another token (issue 30, F15b: APT2's trades pushed APT1's insider trades out of
S8's lookback) or in the same one (rt37 F11: two others' 120 trades in APT1 did).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from operator import attrgetter

from chaincode.market import kst_day
from consensus import codec
from node.storage import KV
from node.storage import schema as s
from node.surveillance.caps import Holdings
from node.surveillance.records import Limits, Trade, pack, unpack
from node.surveillance.staged import Staged
from node.surveillance.timeline import Timeline

TALLIES = 4_096  # (token, owner) tallies of trades among accounts kept (memory only: walks)
SUBJECT_SEP = "/"  # in a Holdings subject: token symbols and account ids hold no "/"


def subject(symbol: str, account: str) -> str:
    """A (token, account) as one Holdings subject."""
    return f"{symbol}{SUBJECT_SEP}{account}"


@dataclass(slots=True)
class DayStats:
    day: int  # KST calendar day (chaincode.market.kst_day)
    open: int
    close: int
    high: int
    low: int
    volume: int
    trades: int
    first_time: int

    def add(self, trade: Trade) -> None:
        self.close = trade.price
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.volume += trade.qty
        self.trades += 1


@dataclass(slots=True)
class Tally:
    """The trades among some accounts in a window (Trades.among), with their total quantity
    and how many of them each account was in, kept as trades come and leave."""

    evicted: int  # Trades.evicted when it was begun: a later eviction makes it stale
    last: int = -1  # the last trade id read
    trades: list[Trade] = field(default_factory=list)
    qty: int = 0
    accounts: dict[str, int] = field(default_factory=dict)

    def extend(self, trades: list[Trade]) -> None:
        for trade in trades:
            self.trades.append(trade)
            self.qty += trade.qty
            for account in {trade.buyer, trade.seller}:
                self.accounts[account] = self.accounts.get(account, 0) + 1
            self.last = trade.trade_id

    def cut(self, since: int) -> None:
        """Forget the trades before `since`."""
        gone = bisect_left(self.trades, since, key=attrgetter("time"))
        for trade in self.trades[:gone]:
            self.qty -= trade.qty
            for account in {trade.buyer, trade.seller}:
                left = self.accounts[account] - 1
                if left:
                    self.accounts[account] = left
                else:
                    del self.accounts[account]
        del self.trades[:gone]


class Trades:
    def __init__(self, horizon_ms: int, participation_ms: int, history_days: int,
                 limits: Limits, staged: Staged) -> None:
        self.horizon_ms = horizon_ms
        self.participation_ms = participation_ms
        self.history_days = history_days
        self.limits = limits
        self.staged = staged
        self.by_symbol: dict[str, Timeline[Trade]] = {}
        self.count = 0  # trades kept, all tokens
        self.holdings = Holdings()  # subject(token, account) -> trades it is in
        self.evicted = 0  # trades dropped at the limit (from inside a window): stales tallies
        self.tallies: dict[tuple[str, tuple[str, ...]], Tally] = {}  # (token, accounts) ->
        self.by_account: dict[tuple[str, str], Timeline[Trade]] = {}
        self.participation: dict[str, Timeline[Trade]] = {}
        self.volumes: dict[str, dict[str, int]] = {}  # symbol -> account -> qty in the window
        self.last_price: dict[str, int] = {}
        self.days: dict[str, dict[int, DayStats]] = {}
        self.changed_days: set[tuple[str, int]] = set()

    # ---- evidence in -------------------------------------------------------------------------

    def add(self, trade: Trade) -> None:
        self._index(trade)
        self._participate(trade)
        self.last_price[trade.symbol] = trade.price
        self._count_day(trade)
        self.staged.put(s.surv_trade_key(trade.symbol, trade.trade_id), pack(trade))
        self.staged.put(s.surv_price_key(trade.symbol), codec.pack(trade.price))

    def _index(self, trade: Trade) -> None:
        self.by_symbol.setdefault(trade.symbol, Timeline()).append(trade.time, trade)
        self.count += 1
        for account in (trade.buyer, trade.seller):
            self.by_account.setdefault((trade.symbol, account), Timeline()).append(
                trade.time, trade)
            self.holdings.add(subject(trade.symbol, account))

    def _participate(self, trade: Trade) -> None:
        self.participation.setdefault(trade.symbol, Timeline()).append(trade.time, trade)
        volumes = self.volumes.setdefault(trade.symbol, {})
        for account in (trade.buyer, trade.seller):
            volumes[account] = volumes.get(account, 0) + trade.qty

    def _count_day(self, trade: Trade) -> None:
        day = kst_day(trade.time)
        days = self.days.setdefault(trade.symbol, {})
        stats = days.get(day)
        if stats is None:
            stats = days[day] = DayStats(day, trade.price, trade.price, trade.price,
                                         trade.price, 0, 0, trade.time)
            for old in sorted(days)[:-(self.history_days + 1)]:
                del days[old]
                self.changed_days.discard((trade.symbol, old))
                self.staged.delete(s.surv_day_key(trade.symbol, old))
        stats.add(trade)
        self.changed_days.add((trade.symbol, day))

    # ---- reads -------------------------------------------------------------------------------

    def since(self, symbol: str, time: int) -> list[Trade]:
        timeline = self.by_symbol.get(symbol)
        return timeline.since(time) if timeline else []

    def price_at(self, symbol: str, time: int) -> int:
        """The token's last price as of `time` (0: none known): the price before the first
        trade at or after it (that trade's own, when it was the token's first), else the
        last price."""
        timeline = self.by_symbol.get(symbol)
        later = timeline.first_at(time) if timeline else None
        if later is None:
            return self.last_price.get(symbol, 0)
        return later.prev_price or later.price

    def between(self, symbol: str, start: int, stop: int) -> list[Trade]:
        timeline = self.by_symbol.get(symbol)
        return timeline.between(start, stop) if timeline else []

    def of_account(self, symbol: str, account: str, since: int) -> list[Trade]:
        timeline = self.by_account.get((symbol, account))
        return timeline.since(since) if timeline else []

    def of_accounts(self, symbol: str, accounts: tuple[str, ...] | list[str], since: int
                    ) -> list[Trade]:
        """The trades of any of `accounts` in the token since `since`, each once, in id
        order."""
        found: dict[int, Trade] = {}
        for account in accounts:
            for trade in self.of_account(symbol, account, since):
                found[trade.trade_id] = trade
        return [found[trade_id] for trade_id in sorted(found)]

    def among(self, symbol: str, accounts: tuple[str, ...], since: int) -> Tally:
        """The token's trades since `since` whose buyer and seller are both of `accounts`, in
        id order, with their quantity and the accounts in them: what `of_accounts` filtered
        would give, but read incrementally. The tally of the same accounts is extended by each
        account's trades after the last one it read (a bisection per account, then only the
        new trades), and its front cut at `since`; a tally made before a trade was evicted at
        the limit is rebuilt. Without it S1 read every trade of a washing owner in the window
        on each block (red team F14). The tally is the reader's to read, not to change."""
        key = (symbol, accounts)
        tally = self.tallies.get(key)
        if tally is None or tally.evicted != self.evicted:
            tally = Tally(self.evicted)
            tally.extend(self._among(symbol, accounts, since, -1))
        else:
            tally.cut(since)
            tally.extend(self._among(symbol, accounts,
                                     tally.trades[-1].time if tally.trades else since,
                                     tally.last))
        if len(self.tallies) >= TALLIES and key not in self.tallies:
            self.tallies.clear()
        self.tallies[key] = tally
        return tally

    def _among(self, symbol: str, accounts: tuple[str, ...], since: int, after: int
               ) -> list[Trade]:
        members = set(accounts)
        return [t for t in self.of_accounts(symbol, accounts, since)
                if t.trade_id > after and t.buyer in members and t.seller in members]

    def participation_of(self, symbol: str) -> tuple[int, dict[str, int]]:
        """(trades, account -> qty bought and sold) in the token's participation window as of
        the last prune."""
        window = self.participation.get(symbol)
        return (len(window) if window else 0), self.volumes.get(symbol, {})

    def history(self, symbol: str, today: int) -> tuple[DayStats | None, list[DayStats]]:
        """(today's statistics, those of the earlier days kept, oldest first)."""
        days = self.days.get(symbol, {})
        return days.get(today), [days[day] for day in sorted(days) if day < today]

    # ---- bounds ------------------------------------------------------------------------------

    def prune(self, now: int) -> None:
        horizon = now - self.horizon_ms
        for symbol in sorted(self.by_symbol):
            while symbol in self.by_symbol and self.by_symbol[symbol].first_time() < horizon:
                self._drop(self.by_symbol[symbol].first())
        while self.count > self.limits.trades:
            symbol, account = self.holdings.largest().split(SUBJECT_SEP)
            self._drop(self.by_account[(symbol, account)].first())
            self.evicted += 1
        since = now - self.participation_ms
        for symbol in sorted(self.participation):
            window = self.participation[symbol]
            while window and window.first_time() < since:
                self._leave_participation(symbol)
            if not window:
                del self.participation[symbol]

    def _drop(self, trade: Trade) -> None:
        """Forget `trade` in every index: the oldest of its token, or of one of its accounts
        in it (then it may be in the middle of the token's and the other account's)."""
        symbol = trade.symbol
        timeline = self.by_symbol[symbol]
        timeline.remove(trade.time, trade)
        self.count -= 1
        if not timeline:
            del self.by_symbol[symbol]
        for account in (trade.buyer, trade.seller):
            key = (symbol, account)
            mine = self.by_account[key]  # indexed under each side, as `_index` did
            mine.remove(trade.time, trade)
            if not mine:
                del self.by_account[key]
            self.holdings.remove(subject(symbol, account))
        window = self.participation.get(symbol)
        if window and window.first_time() <= trade.time:
            window.remove(trade.time, trade)
            self._leave_volumes(trade)
        self.staged.delete(s.surv_trade_key(symbol, trade.trade_id))

    def _leave_participation(self, symbol: str) -> None:
        self._leave_volumes(self.participation[symbol].pop_first())

    def _leave_volumes(self, trade: Trade) -> None:
        symbol = trade.symbol
        volumes = self.volumes[symbol]
        for account in (trade.buyer, trade.seller):
            left = volumes[account] - trade.qty
            if left:
                volumes[account] = left
            else:
                del volumes[account]
        if not volumes:
            del self.volumes[symbol]

    def stage(self) -> None:
        for symbol, day in sorted(self.changed_days):
            stats = self.days[symbol][day]
            self.staged.put(s.surv_day_key(symbol, day), codec.pack(
                [stats.day, stats.open, stats.close, stats.high, stats.low, stats.volume,
                 stats.trades, stats.first_time]))
        self.changed_days.clear()

    def load(self, store: KV, now: int) -> None:
        trades = [Trade(*unpack(value)) for _, value in store.iterate(s.SURV_TRADE)]
        since = now - self.participation_ms
        for trade in sorted(trades, key=lambda t: t.trade_id):
            self._index(trade)
            if trade.time >= since:
                self._participate(trade)
        for raw, value in store.iterate(s.SURV_PRICE):
            self.last_price[raw[len(s.SURV_PRICE):].decode()] = int(codec.unpack(value))
        for raw, value in store.iterate(s.SURV_DAY):
            symbol = raw[len(s.SURV_DAY):-5].decode()
            stats = DayStats(*codec.unpack(value))
            self.days.setdefault(symbol, {})[stats.day] = stats
