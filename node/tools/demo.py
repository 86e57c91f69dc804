"""`stoledger demo` (`make demo`): the whole story on a real local cluster, printed.

A broker registers investors, the issuer creates a real-estate token, the depository (KSD)
approves the issuance cap, tokens are issued, transfers succeed and some are refused by the
restriction rules with their codes, the bank funds the issuer with KRW deposit tokens, a
dividend is declared and paid with withholding, brokers trade the token for their clients on
the market (delivery versus payment against KRW; one order refused by a transfer rule at the
fill, one self-trade prevented, one pair of orders from a shared origin that surveillance
flags as a wash trade and the automatic responder (`stoledger fds run`, its own process) holds
within seconds, one hold then released by the registrar), and the regulator (FSS) prints an
audit. Then (node/tools/demo_offering.py) a second token is sold to the public in an offering
oversubscribed three times, allocated equally and pro rata with refunds, and later redeemed,
every holder paid with withholding on the gain.
Every step is a signed transaction over HTTP to real node processes; nothing is simulated.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chaincode.identity import sign_consent
from consensus.crypto import Signer
from genesis.builder import load_keyfile
from genesis.schema import load_genesis
from node.ledger.proof import verify_proof
from node.tools import cluster as clustermod
from node.tools.client import ApiError, Client, market_origin
from node.tools.demo_offering import offering_act, redemption_act
from node.tools.offering_view import TAX_LABELS

SYMBOL = "SEOUL1"
UNIT_PRICE = 5_000  # KRW per unit
DAY_MS = 86_400_000

INVESTORS = [
    # name, broker, attrs: `investor_type` is the protection category; `legal_form` and
    # `resident` are what the tax law sees (the withholding class)
    ("kim", "broker-a", {"investor_type": "general", "legal_form": "individual",
                         "country": "KR", "resident": True, "aml_risk": "low"}),
    ("lee", "broker-a", {"investor_type": "qualified", "legal_form": "individual",
                         "country": "KR", "resident": True, "aml_risk": "low"}),
    ("park", "broker-b", {"investor_type": "professional", "legal_form": "individual",
                          "country": "KR", "resident": True, "aml_risk": "low"}),
    ("hanbit", "broker-b", {"investor_type": "corporate", "legal_form": "corporation",
                            "country": "KR", "resident": True, "aml_risk": "low"}),
    ("lionfund", "broker-a", {"investor_type": "corporate", "legal_form": "corporation",
                              "country": "SG", "resident": False, "aml_risk": "low"}),
    ("tanaka", "broker-a", {"investor_type": "professional", "legal_form": "individual",
                            "country": "JP", "resident": False, "aml_risk": "low"}),
    ("choi", "broker-b", {"investor_type": "general", "legal_form": "individual",
                          "country": "KR", "resident": True, "aml_risk": "high"}),
]


def say(text: str = "") -> None:
    print(text, flush=True)


def table(rows: list[list[Any]], header: list[str]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  " + "  ".join(
            v.rjust(w) if v.replace(",", "").lstrip("-").isdigit() else v.ljust(w)
            for v, w in zip(values, widths, strict=True))

    say(line(header))
    say("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        say(line(row))


def won(amount: int) -> str:
    return f"{amount:,}"


class Story:
    def __init__(self, directory: Path) -> None:
        info = clustermod.read_cluster(directory)
        self.chain_id = info["chain_id"]
        self.urls = [n["rpc"] for n in info["nodes"]]
        self.keys = {org: load_keyfile(str(directory / "keys" / f"{org}.json"))
                     for org in ("ksd", "fss", "broker-a", "broker-b", "bank", "issuer-1",
                                 "tax")}
        self.investors: dict[str, Signer] = {}
        self.names: dict[str, str] = {k.account: org for org, k in self.keys.items()}
        self.refused: list[list[Any]] = []
        self.turn = 0
        self.dividend_id: Any = None
        self.placed: dict[int, tuple[str, int]] = {}  # order id -> (side, price)
        self.dir = directory
        self.alert: dict[str, Any] = {}
        self.alert_seen = 0.0
        self.offering: dict[str, Any] = {}  # what the offering and redemption acts did
        self.redemption: dict[str, Any] = {}

    def register(self, name: str, broker: str, attrs: dict[str, Any]) -> Signer:
        """A new investor `name` registered by `broker` with its consent; its identity record
        carries `name`, so every view (the audit, the console) calls it what the demo does."""
        signer = Signer.generate()
        self.investors[name] = signer
        self.names[signer.account] = name
        # the investor's own signature of consent to be registered by this broker
        consent = sign_consent(signer, self.chain_id, self.account(broker), "investor")
        self.tx(broker, "identity", "register", {
            "account": signer.account, "role": "investor",
            "attrs": {**attrs, "kyc_expires": int(time.time() * 1000) + 365 * DAY_MS,
                      "name": name},
            "consent": consent})
        return signer

    def client(self, who: str) -> Client:
        signer = self.keys.get(who) or self.investors[who]
        self.turn += 1  # spread requests over the nodes: any node admits any transaction
        return Client(self.urls[self.turn % len(self.urls)], self.chain_id, signer)

    def account(self, who: str) -> str:
        return (self.keys.get(who) or self.investors[who]).account

    def tx(self, who: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        receipt = self.client(who).submit(contract, method, args)
        if not receipt.get("ok"):
            raise SystemExit(f"{who}: {contract}.{method} refused: {receipt.get('error')}")
        return receipt["result"]

    def attempt(self, who: str, contract: str, method: str, args: dict[str, Any],
                label: str) -> bool:
        receipt = self.client(who).submit(contract, method, args)
        if receipt.get("ok"):
            say(f"  ok       {label}")
            return True
        error = receipt["error"]
        say(f"  REFUSED  {label}: {error['code']}")
        self.refused.append([label, error["code"], error["message"][:60]])
        return False

    def query(self, who: str, contract: str, method: str, args: dict[str, Any]) -> Any:
        return self.client(who).query(contract, method, args)

    # ---- the market act --------------------------------------------------------------------

    def order(self, name: str, side: str, price: int, qty: int, media: str,
              origin: tuple[str, str] | None = None) -> dict[str, Any]:
        """The investor's broker places the order; print what happened, fill by fill."""
        broker = next(b for n, b, _ in INVESTORS if n == name)
        ip, device = origin or CLIENTS[name]
        receipt = self.client(broker).submit("market", "place", {
            "symbol": SYMBOL, "account": self.account(name), "side": side, "price": price,
            "qty": qty, "media": media, "origin": market_origin(ip, device)})
        label = f"{broker} for {name}: {side} {won(qty)} @ {won(price)} ({media})"
        if not receipt.get("ok"):
            say(f"  REFUSED  {label}: {receipt['error']['code']}")
            return {}
        result = receipt["result"]
        self.placed[result["order_id"]] = (side, price)
        say(f"  order {result['order_id']:<3} {label} -> {result['status']}, filled "
            f"{won(result['filled'])}")
        # The broker's receipt shows its fills without the other side (node.rpc.receipts);
        # the narrator tells them as the regulator sees them, with both parties.
        for event in self.client("fss").receipt(receipt["tx_id"])["events"]:
            data = event["data"]
            if event["name"] == "Trade":
                seller, buyer = self.names[data["seller"]], self.names[data["buyer"]]
                say(f"      trade {data['trade_id']}: {won(data['qty'])} units {seller} -> "
                    f"{buyer}  |  {won(data['qty'] * data['price'])} KRW {buyer} -> {seller}"
                    f"  (at {won(data['price'])}, the resting price)")
            elif event["name"] == "OrderCancelled":
                whose = self.names[data["account"]]
                was_side, was_price = self.placed[data["order_id"]]
                left = (f"{won(data['cancelled'])} units" if was_side == "sell" else
                        f"{won(data['cancelled'] * was_price)} KRW")
                say(f"      order {data['order_id']} ({whose}) cancelled: {data['code']}; "
                    f"its escrow of {left} released")
        return dict(result)

    def ladder(self) -> None:
        book = self.query("broker-a", "market", "book", {"symbol": SYMBOL, "depth": 5})
        rows = [["ask", won(level["price"]), won(level["qty"]), level["orders"]]
                for level in reversed(book["asks"])]
        rows.append(["", "-----", "", ""])
        rows += [["bid", won(level["price"]), won(level["qty"]), level["orders"]]
                 for level in book["bids"]]
        table(rows, ["", "price", "qty", "orders"])

    def positions(self, names: tuple[str, ...]) -> None:
        say("\n  Positions after trading (units on order and cash escrowed back open orders):")
        rows = []
        for name in names:
            units = self.query("fss", "token", "balance", {"symbol": SYMBOL,
                                                           "account": self.account(name)})
            cash = self.query("fss", "cash", "balance", {"account": self.account(name)})
            rows.append([name, won(units["balance"]), won(units["on_order"]),
                         won(cash["balance"]), won(cash["escrowed"])])
        table(rows, ["investor", "units", "on order", "KRW", "KRW escrowed"])


def run_demo(directory: str = "demo-net", n: int = 4, keep: bool = False) -> None:
    path = Path(directory)
    clustermod.replace(path, progress=lambda line: say("== " + line[0].upper() + line[1:]))
    say(f"== Starting a local cluster of {n} operator nodes in {path}/")
    started = time.monotonic()
    clustermod.up(path, n=n, progress=lambda line: say("   " + line))
    say(f"   ready in {time.monotonic() - started:.1f} s")
    try:
        story(path)
    except ApiError as error:
        raise SystemExit(f"demo failed: {error}") from None
    finally:
        if keep:
            say(f"\n== The cluster is still running (--keep): its nodes answer at the rpc "
                f"addresses of {path}/cluster.json.\n   Stop it with `stoledger cluster down "
                f"--dir {path}`.")
        else:
            say(f"\n== Stopping the cluster (kept in {path}/; `stoledger cluster up --dir "
                f"{path}` restarts it)")
            clustermod.down(path, progress=lambda line: None)


def story(path: Path) -> Story:
    s = Story(path)

    say("\n== 1. Brokers register KYC-verified investors (identity.register)")
    for name, broker, attrs in INVESTORS:
        s.register(name, broker, attrs)
        say(f"  {name:8} {attrs['investor_type']:12} {attrs['legal_form']:11} "
            f"{attrs['country']}  aml {attrs['aml_risk']:6} by {broker} (with its consent)")

    say("\n== 2. issuer-1 creates a real-estate token; KSD approves the issuance cap")
    s.tx("issuer-1", "token", "create", {
        "symbol": SYMBOL, "name": "Seoul Gangnam Office Tower fractional units",
        "asset_type": "real_estate", "unit_price": UNIT_PRICE, "max_supply": 1_000_000,
        "rules": {"lockup_ms": 0, "max_holders": 0,
                  "allowed_investor_types": ["general", "qualified", "professional",
                                             "corporate"],
                  "allowed_countries": ["KR", "SG"], "max_holding_bps": 3500,
                  "issuer_annual_limit": 0}})
    s.tx("issuer-1", "token", "set_document", {
        "symbol": SYMBOL, "name": "prospectus", "uri": "https://example.invalid/seoul1.pdf",
        "sha256": "ab" * 32})
    s.tx("ksd", "token", "approve", {"symbol": SYMBOL, "cap": 600_000})
    say(f"  {SYMBOL}: unit price {won(UNIT_PRICE)} KRW, max supply 1,000,000, cap 600,000 "
        "approved by ksd; holders in KR or SG only, at most 35% of max supply each")

    say("\n== 3. Issuance (token.issue)")
    for name, amount in (("park", 300_000), ("lee", 150_000), ("hanbit", 100_000),
                         ("lionfund", 40_000), ("kim", 10_000)):
        s.tx("issuer-1", "token", "issue", {"symbol": SYMBOL, "to": s.account(name),
                                            "amount": amount})
        say(f"  issued {won(amount):>8} to {name}")
    s.attempt("issuer-1", "token", "issue", {"symbol": SYMBOL, "to": s.account("lee"),
                                             "amount": 50_000}, "issue 50,000 more to lee")

    say("\n== 4. Transfers under the restriction rules (token.transfer)")
    stranger = Signer.generate().account
    s.names[stranger] = "unregistered"
    attempts = [
        ("park", "kim", 5_000, "park -> kim 5,000 (general investor, 25,000,000 KRW)"),
        ("lee", "park", 20_000, "lee -> park 20,000"),
        ("kim", "lee", 1_000_000, "kim -> lee 1,000,000 (more than kim holds)"),
        ("park", stranger, 100, "park -> an unregistered account"),
        ("park", "choi", 100, "park -> choi (AML risk high)"),
        ("park", "tanaka", 100, "park -> tanaka (Japan; token is KR and SG only)"),
        ("lee", "kim", 10_000, "lee -> kim 10,000 (kim's yearly limit of 100,000,000 KRW)"),
        ("lee", "park", 50_000, "lee -> park 50,000 (park would hold over 35%)"),
    ]
    for sender, recipient, amount, label in attempts:
        to = recipient if len(recipient) == 64 else s.account(recipient)
        s.attempt(sender, "token", "transfer", {"symbol": SYMBOL, "to": to, "amount": amount},
                  label)

    say("\n== 5. The registrar freezes part of a holding on a court order; a forced transfer")
    s.tx("ksd", "token", "freeze", {"symbol": SYMBOL, "account": s.account("hanbit"),
                                    "amount": 40_000})
    s.attempt("hanbit", "token", "transfer", {"symbol": SYMBOL, "to": s.account("lee"),
                                              "amount": 70_000},
              "hanbit -> lee 70,000 (40,000 of 100,000 frozen)")
    s.tx("ksd", "token", "force_transfer", {"symbol": SYMBOL, "from": s.account("hanbit"),
                                            "to": s.account("lee"), "amount": 10_000,
                                            "reason": "Seoul Central District Court order "
                                                      "2026-K-1234"})
    say("  ok       ksd force-transfers 10,000 hanbit -> lee (court order kept on chain)")

    say("\n== 6. The bank funds the issuer in KRW deposit tokens; a dividend is paid")
    total = 12_345_678
    s.tx("bank", "cash", "mint", {"to": s.account("issuer-1"), "amount": 20_000_000})
    dividend = s.tx("issuer-1", "dividend", "declare", {"symbol": SYMBOL, "total": total})
    dividend_id = dividend["dividend_id"]
    record_height = dividend["record_height"]
    say(f"  bank mints 20,000,000 KRW to issuer-1; dividend {dividend_id} of {won(total)} KRW "
        f"declared and escrowed; record height {record_height} (the last block before the "
        "declaring block's time)")
    pages = 0
    while True:
        pages += 1
        result = s.tx("issuer-1", "dividend", "pay", {"dividend_id": dividend_id,
                                                      "max_holders": 2})
        if result.get("done"):
            break
    say(f"  register built and paid in {pages} steps of at most 2 holders each")
    regulator = s.client("fss")
    captable = regulator.get(f"/v1/audit/captable?symbol={SYMBOL}&at={record_height}",
                             signed=True)
    register = s.query("fss", "dividend", "payments", {"dividend_id": dividend_id})
    entitled = {row["account"]: row["balance"] for row in register["entitlements"]}
    issuer = s.account("issuer-1")
    at_record = {row["account"]: row["balance"] for row in captable["holders"]
                 if row["account"] != issuer}
    say(f"  register = /v1/audit/captable?at={record_height} holder for holder: "
        f"{'yes' if entitled == at_record else 'NO'} ({len(entitled)} holders)")
    if entitled != at_record:
        raise SystemExit("the dividend register differs from the audit cap table")
    held = [row for row in register["entitlements"] if row["status"] == "held"]
    for row in held:
        name = s.names.get(row["account"], row["account"][:12])
        say(f"  {name}'s net ({won(row['net'])} KRW) is held in escrow: its units are frozen")
        s.tx("ksd", "dividend", "release", {"dividend_id": dividend_id,
                                            "account": row["account"]})
        say(f"  ok       ksd releases {name}'s held dividend once the court order allows")

    trading(s)

    say("\n== 8. What the regulator (fss) sees")
    info = s.query("fss", "token", "info", {"symbol": SYMBOL})
    holders = s.query("fss", "token", "holders", {"symbol": SYMBOL})
    holder_rows = holders["holders"] if isinstance(holders, dict) else holders
    say(f"\n  Cap table of {SYMBOL} (cap {won(info.get('cap', 0))}, issued "
        f"{won(info.get('issued', 0))}, outstanding {won(info.get('outstanding', 0))})")
    table([[s.names.get(h["account"], h["account"][:12]), won(h["balance"]),
            won(h.get("frozen", 0)),
            f"{h['balance'] * 100 / max(info.get('outstanding', 1), 1):.2f}%"]
           for h in holder_rows], ["holder", "units", "frozen", "of outstanding"])

    say("\n  Refused transactions, with the rule that refused them")
    table([[label, code] for label, code, _ in s.refused], ["attempt", "code"])

    say(f"\n  Dividend {dividend_id}: {won(total)} KRW, exact pro-rata, largest remainder; "
        "income tax by tax class (legal form and residence), local tax 10% of it")
    rows = []
    sums = [0, 0, 0, 0]
    entries = s.query("fss", "dividend", "payments", {"dividend_id": dividend_id})
    for e in entries["entitlements"]:
        values = [e["gross"], e["income_tax"], e["local_tax"], e["net"]]
        sums = [a + b for a, b in zip(sums, values, strict=True)]
        rows.append([s.names.get(e["account"], e["account"][:12]), TAX_LABELS[e["class"]]]
                    + [won(v) for v in values] + [e["status"]])
    rows.append(["total", ""] + [won(v) for v in sums] + [""])
    table(rows, ["holder", "tax class", "gross", "income tax", "local tax", "net", "status"])
    tax = s.query("fss", "cash", "balance", {"account": s.account("tax")})
    say(f"\n  tax account holds {won(tax['balance'])}"
        f" KRW withheld; gross shares sum to {won(sums[0])} = the declared total: "
        f"{'yes' if sums[0] == total else 'NO'}")
    supply = regulator.get(f"/v1/audit/supply?symbol={SYMBOL}", signed=True)
    say(f"\n  Audit: supply of {SYMBOL} reconciles (issued - redeemed = outstanding = sum of "
        f"balances = {won(supply['sum_of_balances'])}): {supply['reconciles']}")
    proof = regulator.get("/v1/audit/proof", signed=True)
    valid, reason = verify_proof(load_genesis(path / "genesis.json"), proof)
    say(f"  Audit: proof of the last block checked offline against genesis: {reason}")
    if not valid:
        raise SystemExit("the chain served a proof that does not verify")
    s.offering = offering_act(s)
    s.redemption = redemption_act(s)
    status = regulator.status()
    say(f"\n  chain {status['chain_id']} at height {status['height']}, app hash "
        f"{status['app_hash'][:16]}..., every block signed by 2f+1 operators")
    sys.stdout.flush()
    s.dividend_id = dividend_id
    return s


# ---- act 7: the market -----------------------------------------------------------------------

# Where each client's orders come from, as its broker saw them (PROTOCOL "market": `origin` is
# sha256 of the IP address and device id). lee and hanbit's treasury desk share one PC.
SHARED_PC = ("10.20.30.40", "desk-pc-7")
CLIENTS = {"lee": ("203.0.113.11", "hts-lee"), "park": ("198.51.100.5", "iphone-park"),
           "hanbit": ("192.0.2.77", "api-hanbit"), "lionfund": ("192.0.2.200", "branch-sg"),
           "kim": ("203.0.113.42", "galaxy-kim")}


RESPONDER_WAIT_S = 30.0  # from the alert to the responder's holds (the bound)


def start_responder(path: Path) -> subprocess.Popen[bytes]:
    """`stoledger fds run --dir PATH` (the registrar's key, the shipped policy) as its own
    process, as an operator would run it; its log in PATH/fds.log. Returns once it has taken
    its position in the alert stream."""
    log = open(path / "fds.log", "wb")  # noqa: SIM115 (the child keeps it)
    process = subprocess.Popen([sys.executable, "-m", "node.cli", "fds", "run", "--dir",
                                str(path)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + RESPONDER_WAIT_S
    while not (path / "fds" / "state.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_responder(process)
            raise SystemExit(f"demo: the responder did not start (see {path}/fds.log)")
        time.sleep(0.1)
    return process


def stop_responder(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=RESPONDER_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def trading(s: Story) -> None:
    responder = start_responder(s.dir)
    try:
        market(s)
        respond(s)
    finally:
        stop_responder(responder)


def market(s: Story) -> None:
    say("\n== 7. Trading on the market: brokers place orders for their clients (market.place)")
    say("  The automatic responder runs beside the cluster (stoledger fds run --dir "
        f"{s.dir}: the registrar's key,\n  the shipped policy; it follows a node's alert "
        "stream and holds the accounts an alert names).")
    say("  Every fill is delivery versus payment in one transaction: units seller -> buyer and "
        "KRW buyer -> seller, both or neither.")
    for name, amount in (("lionfund", 20_000_000), ("kim", 40_000_000), ("park", 5_000_000)):
        s.tx("bank", "cash", "mint", {"to": s.account(name), "amount": amount})
    say("  bank mints KRW deposit tokens: lionfund 20,000,000, kim 40,000,000, park 5,000,000")

    say("\n  Sellers' brokers post asks; the book (no accounts in it):")
    s.order("lee", "sell", 5_050, 2_000, "hts")
    s.order("park", "sell", 5_100, 8_000, "mts")
    s.order("hanbit", "sell", 5_200, 1_000, "api")
    s.ladder()

    say("\n  broker-a buys 2,500 for lionfund (Singapore fund) at up to 5,100:")
    s.order("lionfund", "buy", 5_100, 2_500, "branch")

    say("\n  broker-a buys 6,000 for kim (general investor) at 5,100: 30,600,000 KRW, more "
        "than the\n  25,000,000 left of kim's yearly limit. place accepts it; the fill is "
        "refused:")
    s.order("kim", "buy", 5_100, 6_000, "mts")

    say("\n  broker-b sends a buy for park, whose own ask is the best ask (self-trade "
        "prevention):")
    s.order("park", "buy", 5_100, 200, "mts")

    say("\n  lee (broker-a) and hanbit (broker-b) place crossing orders from one PC "
        "(the same origin):")
    s.order("hanbit", "sell", 5_150, 300, "hts", origin=SHARED_PC)
    s.order("lee", "buy", 5_150, 300, "hts", origin=SHARED_PC)
    s.ladder()
    s.positions(("lee", "park", "hanbit", "lionfund", "kim"))

    say("\n  The regulator reads every trade with both sides' media and origin "
        "(/v1/audit/trades):")
    trades = s.client("fss").get(f"/v1/audit/trades?symbol={SYMBOL}", signed=True)["trades"]
    table([[t["trade_id"], t["height"], won(t["price"]), won(t["qty"]),
            s.names[t["seller"]], f"{t['sell_media']} {t['sell_origin'][:8]}",
            s.names[t["buyer"]], f"{t['buy_media']} {t['buy_origin'][:8]}",
            "SAME ORIGIN" if t["buy_origin"] == t["sell_origin"] else ""] for t in trades],
          ["trade", "height", "price", "qty", "seller", "media/origin", "buyer",
           "media/origin", ""])
    orders = s.client("fss").get(f"/v1/audit/orders?symbol={SYMBOL}", signed=True)["orders"]
    cancelled = [f"order {o['order_id']} ({s.names[o['account']]}) {o['code']}"
                 for o in orders if o["status"] == "cancelled"]
    say(f"  and every order (/v1/audit/orders): {len(orders)} orders; cancelled: "
        + "; ".join(cancelled))

    say("\n  Market surveillance (node.surveillance) derived from the same blocks: the trade "
        "between lee and hanbit\n  shares one origin, a wash trade (S1). The regulator reads "
        "the alert (/v1/audit/alerts?rule=S1):")
    alerts = s.client("fss").get("/v1/audit/alerts?rule=S1", signed=True)["alerts"]
    for alert in alerts:
        explanation = alert["explanation"]
        for account in alert["accounts"]:  # the explanation names accounts by 12 hex
            explanation = explanation.replace(account[:12], s.names.get(account, account[:12]))
        say(f"  {alert['rule']} {alert['name']} [{alert['severity']}] {alert['symbol']}: "
            f"{explanation}")
        say("     accounts: " + ", ".join(s.names.get(a, a[:12]) for a in alert["accounts"])
            + f"; evidence: {len(alert['evidence'])} transactions at heights "
            + ", ".join(str(h) for h in alert["heights"]))
    if not alerts:
        raise SystemExit("demo: surveillance raised no S1 alert for the planted wash trade")
    s.alert = alerts[0]
    s.alert_seen = time.monotonic()


def respond(s: Story) -> None:
    """The responder's holds beside the alert; an order refused; the registrar releases one."""
    alert = s.alert
    regulator = s.client("fss")
    wanted = len(alert["accounts"])
    deadline = s.alert_seen + RESPONDER_WAIT_S
    while True:
        holds = regulator.get(f"/v1/audit/holds?alert={alert['alert_id']}",
                              signed=True)["holds"]
        if len(holds) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(holds) < wanted:
        raise SystemExit(f"demo: the responder placed {len(holds)} of {wanted} holds in "
                         f"{RESPONDER_WAIT_S:.0f} s (see {s.dir}/fds.log)")
    say(f"\n  FDS: the responder held both accounts' trading "
        f"{time.monotonic() - s.alert_seen:.1f} s after the regulator read the alert. The "
        "regulator prints\n  the alert and the holds it caused side by side "
        f"(/v1/audit/alerts, /v1/audit/holds?alert=...):")
    hold_table(s, alert, holds)
    say("\n  broker-a tries to sell for lee while the hold is active:")
    s.order("lee", "sell", 5_150, 100, "hts")
    hanbit = next(h for h in holds if h["account"] == s.account("hanbit"))
    reason = "examiner: the desk PC is the building's shared terminal; hanbit cleared"
    s.tx("ksd", "fds", "release", {"hold_id": hanbit["hold_id"], "reason": reason})
    say(f"\n  The registrar (ksd) reviews the evidence and releases hanbit's hold "
        f"(fds.release, \"{reason}\");\n  lee's stays. The same view, now:")
    hold_table(s, alert, regulator.get(f"/v1/audit/holds?alert={alert['alert_id']}",
                                       signed=True)["holds"])
    say("  broker-b posts hanbit's ask again (the hold cancelled it):")
    s.order("hanbit", "sell", 5_200, 1_000, "api")


def hold_table(s: Story, alert: dict[str, Any], holds: list[dict[str, Any]]) -> None:
    label = f"{alert['rule']} {alert['severity']} {alert['alert_id'][:10]}"
    table([[label if index == 0 else "", s.names.get(h["account"], h["account"][:12]),
            h["hold_id"], h["scope"], h["status"], s.names.get(h["by"], h["by"][:12]),
            h["height"], h["orders_cancelled"],
            "" if h["released_by"] is None else
            f"{s.names.get(h['released_by'], '?')} at {h['released_height']}"]
           for index, h in enumerate(holds)],
          ["alert", "account", "hold", "scope", "status", "by", "height", "orders cancelled",
           "released"])
