"""Honest look-alikes of manipulation: what the rules must not flag (issue 30, "False alerts").

- Branch terminals: some honest clients trade through their broker's branch or phone desk
  (media `branch`, `phone`), so one terminal's origin is shared by many clients of one broker;
  they are not one owner (S1) nor a shared device (S10).
- Market makers: one per liquid token quotes both sides at the touch (joining the best price,
  or improving it in a wide spread) for forty minutes a day, large sizes, cancelling and
  replacing its quotes every one to two minutes, trading whenever it is hit. It quotes
  both sides always, as a KRX liquidity provider must (양방향 호가), and keeps its inventory
  near MM_INVENTORY units by skewing: when that long (short), its bid (offer) is only
  MM_MIN_QUOTE units a tick behind the touch (not S3, S6, S12, S13). A quoter that drops a
  side for long is a buyer or a seller, not a market maker.
- A thin token: THN4, traded by six honest accounts a few dozen times a day (not S2, S6).
- Institutions: three accounts placing one or two large orders a day (500-1,500 units: up to
  a tenth of a day's volume),
  some sweeping a little of the book, some resting (not S4, S5, S7, S8).
- Cash: deposits and withdrawals at the bank, payments to a handful of payees (landlords,
  shops: each paid KRW 1,000,000 by a dozen customers outside the market from the start, so
  a hub: only payments of at least `min_link_krw` count), and
  transfers within households (a trader and
  a family member who does not trade), in amounts from KRW 10,000 to 50,000,000 (not S9, and
  no owner made of strangers).
- Strangers: an honest account sends another it does not know small sums (a won, a
  refund of KRW 100,000: under `min_link_krw`), and the two later trade with each other on
  the market (not S1: a trivial transfer is no link, or anyone could frame anyone).
- Rents: a landlord receives a month's rent of 9.5-9.99M from each of three tenants, on
  different days (not S9: each payment is its sender's one act).
- Patient investors: two resting bids a little under the last, hours apart, hit by sellers
  while others move the price, and half sold later at the best bid if above the first buy
  (not S7: its bids set no price).
- Early buyers: two accounts each take a large block (up to two ticks over the best offer)
  early in a session, a small top-up hours later, and sell 40% at the best bid an hour after
  if above the first buy; on a day others lift the price, the block is most of the buying
  (not S7: its own buys moved the price a tick or two, others made the rise).
- Officers and clerks: near the last close, an officer is named an insider of an issuer and
  pays a clerk a salary; the clerk and a newcomer each buy a block of 1,000-1,200 units (up
  to two ticks over the offer), the newcomer is named an insider too, and the issuer files
  a routine document (not S8: the clerk's buy is its own, the newcomer's was made before
  its appointment).
- Payroll: an employer pays its ten staff a salary of KRW 2-4M each on the first day, and
  three pairs of staff later trade with each other in the thin token at its last price, by
  chance (not S1: an employer is a payer hub, and its staff are not one owner through it;
  rt37 F2).
- Arbitrageur: a quoter improves both sides of the thin token's spread by a tick, four times
  ten minutes apart on one day; an arbitrageur takes each quote within seconds, both sides,
  size for size (ioc), the side nearer the last price second, so the book ends as it was
  (not S2: it answered quotes open to everyone, and the quoter arranged nothing; rt38 F6).
All of them are honest accounts of the run: an alert naming one is a false alert.
"""

from __future__ import annotations

import math
import random

from node.ledger.executor import Receipt
from node.surveillance.generator import (
    DAY_MS,
    SESSION_MS,
    SYMBOLS,
    THIN,
    TICK,
    Market,
    Trader,
    origin_of,
    session_open,
)
from node.surveillance.planting import cross, retry

BRANCH_CLIENTS = 24  # honest traders who order through a branch or a phone desk
MM_REFRESH_MS = (60_000, 120_000)
MM_SIZES = (150, 300)
MM_QUOTING_MS = 40 * 60_000  # a day, from a random time
MM_INVENTORY = 200  # units long or short at most
MM_MIN_QUOTE = 100  # a side with less room than this is quoted this, a tick behind
THIN_TRADERS = 6
THIN_ORDERS_PER_DAY = 60
INSTITUTIONS = 3
INSTITUTION_SIZES = (500, 1_500)
PAYEES = 10
HOUR_MS = 3_600_000
PAYEE_CUSTOMERS = 12  # accounts outside the market that have paid each payee before the run
HOUSEHOLD_SHARE = 0.3  # of honest traders with a family member they move cash with
STRANGER_PAIRS = 3
STRANGER_SUMS = (1, 100_000)  # won: under min_link_krw
STAFF = 10  # an employer's payees: more than max_transfer_partners (8)
SALARY = (2_000_000, 4_000_000)  # KRW, each over min_link_krw
STAFF_TRIES = 900  # every 2 s for half an hour: until the thin token's last is inside its spread
ARBITRAGE_ROUNDS, ARBITRAGE_QTY = 4, 20  # rt38 F6: four rounds in 40 minutes made three S2
ARBITRAGE_GAP_MS = (2_000, 6_000)  # from the quote to its taking: well within S2's match_ms
ARBITRAGE_EVERY_MS = 600_000  # ten minutes between rounds: four within S2's hour


def add_lookalikes(market: Market) -> None:
    branch_terminals(market)
    for symbol in sorted(SYMBOLS):
        MarketMaker(market, symbol).start()
    thin_token(market)
    institutions(market)
    Cash(market).start()
    strangers(market)
    rents(market)
    patient_investors(market)
    early_buyers(market)
    officers_and_clerks(market)
    payroll(market)
    arbitrageur(market)


def branch_terminals(market: Market) -> None:
    """Some honest traders order through their broker's branch terminal or phone desk."""
    rng = market.rng
    for trader in rng.sample(market.traders, BRANCH_CLIENTS):
        trader.media = rng.choice(("branch", "phone"))
        trader.origins = (origin_of(f"{market.config.seed}:{trader.broker}:terminal"),)


class MarketMaker:
    def __init__(self, market: Market, symbol: str) -> None:
        self.market, self.symbol = market, symbol
        self.trader: Trader = market.new_trader(f"mm-{symbol}", media="api")
        self.quotes: list[int] = []
        self.position = 0  # units bought less units sold
        market.hooks.append(self.learn)

    def start(self) -> None:
        rng = self.market.rng
        for day in range(self.market.first_day, self.market.config.days):
            begin = session_open(day) + rng.randrange(SESSION_MS - MM_QUOTING_MS)
            self.market.at(begin, lambda end=begin + MM_QUOTING_MS: self.quote(end))  # type: ignore[misc]

    def learn(self, receipt: Receipt) -> None:
        for event in receipt.events if receipt.ok else ():
            data = event["data"]
            if event["name"] == "Trade" and self.trader.account in (data["buyer"],
                                                                     data["seller"]):
                bought = data["buyer"] == self.trader.account
                self.position += data["qty"] if bought else -data["qty"]

    def quote(self, until: int) -> None:
        market, rng = self.market, self.market.rng
        for order_id in self.quotes:  # cancel first, in the same block
            market.cancel(self.trader, order_id)
        self.quotes = []
        if market.now >= until:
            return
        bid, ask = market.best(self.symbol)
        last = market.last[self.symbol]
        bid = bid or market.clip(self.symbol, last * 0.998)
        ask = ask or market.clip(self.symbol, last * 1.002)
        if ask - bid > 2 * TICK:  # a wide spread: improve both sides by a tick
            bid, ask = bid + TICK, ask - TICK
        size = rng.randrange(*MM_SIZES)
        room = {"buy": MM_INVENTORY - self.position, "sell": MM_INVENTORY + self.position}
        for side, price in (("buy", bid), ("sell", ask)):
            if room[side] >= MM_MIN_QUOTE:
                market.place(self.trader, self.symbol, side, price, min(size, room[side]),
                             then=self.remember)
            else:  # skewed: the side it has too much of, small and a tick behind
                behind = price - TICK if side == "buy" else price + TICK
                market.place(self.trader, self.symbol, side, behind, MM_MIN_QUOTE,
                             then=self.remember)
        market.at(market.now + rng.randrange(*MM_REFRESH_MS), lambda: self.quote(until))

    def remember(self, receipt: Receipt) -> None:
        if receipt.ok and receipt.result["status"] == "resting":
            self.quotes.append(receipt.result["order_id"])


def thin_token(market: Market) -> None:
    rng = market.rng
    traders = [market.new_trader(f"thin-{i}") for i in range(THIN_TRADERS)]
    for day in range(market.config.days):
        for _ in range(THIN_ORDERS_PER_DAY):
            trader = rng.choice(traders)
            market.at(session_open(day) + rng.randrange(SESSION_MS - 1_000),
                      lambda trader=trader: market.honest_order(  # type: ignore[misc]
                          THIN[0], trader, marketable=0.5))


def institutions(market: Market) -> None:
    rng = market.rng
    for number in range(INSTITUTIONS):
        trader = market.new_trader(f"institution-{number}", media="api")
        for day in range(market.config.days):
            for _ in range(rng.choice((1, 2))):
                symbol = rng.choice(sorted(SYMBOLS))
                market.at(session_open(day) + rng.randrange(600_000, SESSION_MS - 600_000),
                          lambda trader=trader, symbol=symbol: block_order(  # type: ignore[misc]
                              market, trader, symbol))


def block_order(market: Market, trader: Trader, symbol: str) -> None:
    rng = market.rng
    side = rng.choice(("buy", "sell"))
    sign = 1 if side == "buy" else -1
    sweep = rng.random() < 0.5
    anchor = market.anchor(symbol)
    price = anchor * (1 + sign * rng.uniform(0.002, 0.008)) if sweep else \
        anchor * (1 - sign * rng.uniform(0.0, 0.005))
    market.place(trader, symbol, side, market.clip(symbol, price),
                 rng.randrange(*INSTITUTION_SIZES), "ioc" if sweep else "gtc")


class Cash:
    """Deposits, withdrawals, payments to payees and transfers within households."""

    def __init__(self, market: Market) -> None:
        self.market = market
        world = market.world
        self.payees = [world.send_register(f"payee-{i}", "broker-a") for i in range(PAYEES)]
        customers = [f"customer-{i}" for i in range(PAYEE_CUSTOMERS)]
        for name in customers:
            world.enrol(name, "broker-b", {}, 0, 10**9)
        for payee in self.payees:
            for name in customers:
                world.send(name, "cash", "transfer", to=payee, amount=1_000_000)  # a rent
        self.homes: dict[str, str] = {}  # trader name -> its family member's name
        for trader in market.traders:
            if market.rng.random() < HOUSEHOLD_SHARE:
                name = f"home-{trader.name}"
                market.world.enrol(name, trader.broker, {}, 0, 50_000_000)
                self.homes[trader.name] = name
        market.honest |= {market.world.account(name) for name in self.homes.values()}
        market.honest |= set(self.payees) | {world.account(name) for name in customers}

    def start(self) -> None:
        market = self.market
        for day in range(market.config.days):
            for _ in range(market.config.honest_accounts // 2):
                market.at(session_open(day) + market.rng.randrange(DAY_MS - 2 * 3_600_000),
                          self.move)

    def amount(self, low: int = 10_000, high: int = 50_000_000) -> int:
        return int(math.exp(self.market.rng.uniform(math.log(low), math.log(high))))

    def move(self) -> None:
        market, rng = self.market, self.market.rng
        trader = rng.choice(market.traders)
        world = market.world
        kind = rng.random()
        if kind < 0.4:  # the bank: a deposit or a withdrawal
            method = "mint" if rng.random() < 0.6 else "burn"
            args = {"to": trader.account} if method == "mint" else {"from_": trader.account}
            world.send("bank", "cash", method, amount=self.amount(100_000), **args)
        elif kind < 0.8:
            world.send(trader.name, "cash", "transfer", to=rng.choice(self.payees),
                       amount=self.amount(10_000, 5_000_000))
        elif trader.name in self.homes:
            home = self.homes[trader.name]
            if rng.random() < 0.5:
                world.send(trader.name, "cash", "transfer", to=world.account(home),
                           amount=self.amount(10_000, 20_000_000))
            else:
                world.send(home, "cash", "transfer", to=trader.account,
                           amount=self.amount(10_000, 20_000_000))


def strangers(market: Market) -> None:
    """Pairs of honest traders: small transfers from one to the other, then a trade between
    them. Drawn from a generator of their own, so the plants after them keep their draws."""
    rng = random.Random(f"{market.config.seed}:strangers")
    clients = [t for t in market.traders if t.media not in ("branch", "phone")]
    for _ in range(STRANGER_PAIRS):
        payer, payee = rng.sample(clients, 2)
        day = rng.randrange(1, market.config.days) if market.config.days > 1 else 0
        start = session_open(day) + rng.randrange(600_000, SESSION_MS - 3_600_000)
        symbol = rng.choice(sorted(SYMBOLS))
        for number, amount in enumerate(STRANGER_SUMS):
            market.at(start + number, lambda a=amount, p=payer, q=payee: market.world.send(
                p.name, "cash", "transfer", to=q.account, amount=a))
        market.at(start + 10 * 60_000, retry(market, lambda p=payer, q=payee, s=symbol: cross(
            market, s, q, p, 20) is not None))


def own_trader(market: Market, name: str) -> Trader:
    """An honest account of its own device, drawing nothing from the market's random
    sequence (look-alikes added last change the seeded markets as little as they can)."""
    return market.new_trader(name, origins=(origin_of(f"{market.config.seed}:{name}"),),
                             media="hts", broker="broker-a")


def rents(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:rents")
    landlord = own_trader(market, "landlord")
    for number in range(3):
        tenant = own_trader(market, f"tenant-{number}")
        day = min(number, market.config.days - 1)
        rent = rng.randrange(9_500_000, 9_990_000)
        market.at(session_open(day) + rng.randrange(SESSION_MS),
                  lambda t=tenant, a=rent: market.world.send(  # type: ignore[misc]
                      t.name, "cash", "transfer", to=landlord.account, amount=a))


def patient_investors(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:patient")
    for number in range(2):
        trader = own_trader(market, f"patient-{number}")
        symbol = rng.choice(sorted(SYMBOLS))
        day = rng.randrange(market.first_day, market.config.days)
        start = session_open(day) + rng.randrange(SESSION_MS // 2)
        paid: list[int] = []
        for offset in (0, HOUR_MS):
            qty = rng.randrange(100, 300)
            market.at(start + offset, lambda t=trader, s=symbol, q=qty,
                      p=paid: patient_bid(market, t, s, q, p))  # type: ignore[misc]
        market.at(start + 3 * HOUR_MS, lambda t=trader, s=symbol, p=paid: take_profit(
            market, t, s, p))  # type: ignore[misc]


def patient_bid(market: Market, trader: Trader, symbol: str, qty: int, paid: list[int]) -> None:
    price = market.clip(symbol, market.last[symbol] * 0.998)
    paid.append(price)
    market.place(trader, symbol, "buy", price, qty)


def take_profit(market: Market, trader: Trader, symbol: str, paid: list[int],
                qty: int = 50) -> None:
    bid, _ = market.best(symbol)
    if paid and bid is not None and bid > paid[0]:
        market.place(trader, symbol, "sell", bid, qty, "ioc")


def early_buyers(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:early")
    for number in range(2):
        trader = own_trader(market, f"early-{number}")
        symbol = rng.choice(sorted(SYMBOLS))
        day = rng.randrange(market.first_day, market.config.days)
        start = session_open(day) + rng.randrange(SESSION_MS // 4)
        paid: list[int] = []
        block = rng.randrange(800, 1_200)
        for offset, qty in ((0, block), (3 * HOUR_MS, 20)):
            market.at(start + offset, lambda t=trader, s=symbol, q=qty,
                      p=paid: at_the_offer(market, t, s, q, p))  # type: ignore[misc]
        market.at(start + 4 * HOUR_MS, lambda t=trader, s=symbol, p=paid, q=block: take_profit(
            market, t, s, p, q * 2 // 5))  # type: ignore[misc]


def at_the_offer(market: Market, trader: Trader, symbol: str, qty: int, paid: list[int]) -> None:
    """An immediate-or-cancel buy of `qty` up to two ticks over the best offer: a block that
    moves the price a tick or two."""
    _, ask = market.best(symbol)
    if ask is not None:
        paid.append(ask)
        market.place(trader, symbol, "buy", ask + 2 * TICK, qty, "ioc")


def officers_and_clerks(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:officers")
    symbol = rng.choice(sorted(SYMBOLS))
    officer, clerk, newcomer = (own_trader(market, name)
                                for name in ("officer", "clerk", "newcomer"))
    start = session_open(market.config.days - 1) + SESSION_MS - HOUR_MS
    issuer = market.world.account(SYMBOLS[symbol])
    for trader, offset in ((officer, 0), (newcomer, 20)):
        market.at(start + offset * 60_000, lambda t=trader: market.world.send(
            t.broker, "identity", "update", account=t.account,  # type: ignore[misc]
            attrs={"insider_of": [issuer]}))
    market.at(start + 60_000, lambda: market.world.send(
        officer.name, "cash", "transfer", to=clerk.account, amount=3_000_000))
    for trader, offset in ((clerk, 10), (newcomer, 11)):
        market.at(start + offset * 60_000, lambda t=trader: at_the_offer(  # type: ignore[misc]
            market, t, symbol, rng.randrange(1_000, 1_200), []))
    market.at(start + 30 * 60_000, lambda: market.disclose(symbol))


def payroll(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:payroll")
    employer = own_trader(market, "employer")
    staff = [own_trader(market, f"staff-{number}") for number in range(STAFF)]
    for number, member in enumerate(staff):
        salary = rng.randrange(*SALARY)
        market.at(session_open(0) + number, lambda m=member, a=salary: market.world.send(
            employer.name, "cash", "transfer", to=m.account, amount=a))
    for _ in range(3):
        seller, buyer = rng.sample(staff, 2)
        day = rng.randrange(1, market.config.days) if market.config.days > 1 else 0
        start = session_open(day) + rng.randrange(600_000, SESSION_MS - 3_600_000)
        market.at(start, retry(market, lambda s=seller, b=buyer: at_the_last(
            market, THIN[0], s, b, 20), tries=STAFF_TRIES))


def at_the_last(market: Market, symbol: str, seller: Trader, buyer: Trader, qty: int) -> bool:
    """`seller` and `buyer` trade `qty` at the token's last price, when it is strictly inside
    the spread (False: not now): the price and the book stay as they were, so the markets
    the plants are judged in do not change (seed 3's S12.simple was missed when staff traded
    inside the spread of a liquid token)."""
    bid, ask = market.best(symbol)
    last = market.last[symbol]
    if (bid is not None and bid >= last) or (ask is not None and ask <= last):
        return False
    market.place(seller, symbol, "sell", last, qty)
    market.place(buyer, symbol, "buy", last, qty)
    return True


def arbitrageur(market: Market) -> None:
    rng = random.Random(f"{market.config.seed}:arbitrageur")
    quoter, taker = own_trader(market, "quoter"), own_trader(market, "arbitrageur")
    day = rng.randrange(1, market.config.days) if market.config.days > 1 else 0
    start = session_open(day) + rng.randrange(600_000, SESSION_MS - 3_600_000)
    for number in range(ARBITRAGE_ROUNDS):
        market.at(start + number * ARBITRAGE_EVERY_MS, retry(market, lambda: quote_and_take(
            market, quoter, taker, rng.randrange(*ARBITRAGE_GAP_MS)), tries=STAFF_TRIES))


def quote_and_take(market: Market, quoter: Trader, taker: Trader, gap_ms: int) -> bool:
    """`quoter` improves both sides of the thin token's spread by a tick, when it is at least
    three ticks wide (False: not now); `gap_ms` later `taker` takes both quotes, the one
    nearer the last price second, so the last moves as little as it can."""
    symbol = THIN[0]
    bid, ask = market.best(symbol)
    if bid is None or ask is None or ask - bid < 3 * TICK:
        return False
    quoted = {"buy": bid + TICK, "sell": ask - TICK}
    market.place(quoter, symbol, "buy", quoted["buy"], ARBITRAGE_QTY)
    market.place(quoter, symbol, "sell", quoted["sell"], ARBITRAGE_QTY)
    last = market.last[symbol]
    order = ("buy", "sell") if abs(quoted["sell"] - last) >= abs(quoted["buy"] - last) else (
        "sell", "buy")

    def take() -> None:
        for side in order:  # the taker buys at the quoter's offer, sells at its bid
            market.place(taker, symbol, side, quoted["sell" if side == "buy" else "buy"],
                         ARBITRAGE_QTY, "ioc")
    market.at(market.now + gap_ms, take)
    return True
