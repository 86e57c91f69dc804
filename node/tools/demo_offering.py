"""The demo's offering acts (node/tools/demo.py runs them after its audit): a public offering of
new units oversubscribed three times, allocated equally and pro rata with refunds, and later
the redemption of every unit with withholding on the gain.

`offering_act(s)` and `redemption_act(s)` take the demo's Story (`tx`, `attempt`, `query`,
`client`, `account`, `names`, `investors`, `chain_id`) and print as they go; they return what
the demo test checks. Every step is a signed transaction over HTTP, as in the rest of the demo.
"""

from __future__ import annotations

import time
from typing import Any

from node.tools.offering_view import (
    ALLOCATION_HEADER,
    REDEMPTION_HEADER,
    TAX_LABELS,
    allocation_rows,
    redemption_rows,
    text_table,
    won,
)

SYMBOL = "BUSAN1"
UNIT_PRICE = 5_000
OFFERED = 20_000
WINDOW_MS = 12_000  # long enough for the subscriptions below to commit on a loaded machine
ASKS = {"park": 15_000, "hanbit": 12_000, "lionfund": 10_000, "tanaka": 9_000,
        "jung": 9_000, "kim": 5_000}  # 60,000: three times the offering (kim: at its limit)
REDEMPTION_PRICE = 5_600  # 600 KRW a unit over the unit price: the gain that is taxed


def say(text: str = "") -> None:
    print(text, flush=True)


def broker_of(s: Any, name: str) -> str:
    record = s.query("fss", "identity", "get", {"account": s.account(name)})
    return str(s.names[record["broker"]])


def offering_act(s: Any) -> dict[str, Any]:
    say(f"\n== 9. A public offering (공모 청약): issuer-1 sells {won(OFFERED)} new units of "
        f"{SYMBOL} through the brokers")
    s.tx("issuer-1", "token", "create", {
        "symbol": SYMBOL, "name": "Busan Harbour Logistics Centre", "asset_type": "real_estate",
        "unit_price": UNIT_PRICE, "max_supply": 100_000,
        "rules": {"lockup_ms": 0, "max_holding_bps": 2_000}})
    s.tx("issuer-1", "token", "set_document", {
        "symbol": SYMBOL, "name": "prospectus", "uri": "https://example.invalid/busan1.pdf",
        "sha256": "cd" * 32})
    s.tx("ksd", "token", "approve", {"symbol": SYMBOL, "cap": 50_000})
    s.register("jung", "broker-b", {"investor_type": "general", "legal_form": "individual",
                                     "country": "KR", "resident": True, "aml_risk": "low"})
    for name in ("park", "hanbit", "lionfund", "tanaka", "jung"):
        s.tx("bank", "cash", "mint", {"to": s.account(name), "amount": 100_000_000})
    say(f"  {SYMBOL}: unit price {won(UNIT_PRICE)} KRW, prospectus (증권신고서) filed, cap "
        "50,000 approved by ksd; at most 20% of max supply a holder")
    say("  broker-b registers jung (general investor); the bank mints 100,000,000 KRW to each "
        "subscriber but kim")
    now = int(time.time() * 1000)
    opened = s.tx("issuer-1", "offering", "open", {
        "symbol": SYMBOL, "price": UNIT_PRICE, "qty": OFFERED, "start_time": now,
        "end_time": now + WINDOW_MS, "min_qty": 10, "max_qty": 15_000, "equal_bps": 5_000})
    offering_id = opened["offering_id"]
    say(f"  offering {offering_id} opens: {won(OFFERED)} units at {won(UNIT_PRICE)} KRW, "
        f"10..15,000 a subscriber, half shared equally (균등배정) and half pro rata "
        f"(비례배정); the {won(OFFERED)} units are reserved against the cap")

    say("\n  Brokers subscribe for their clients; the whole price is escrowed (청약증거금 100%):")
    for name, ask in ASKS.items():
        broker = broker_of(s, name)
        s.attempt(broker, "offering", "subscribe",
                  {"offering_id": offering_id, "account": s.account(name), "qty": ask},
                  f"{broker} for {name}: {won(ask)} units ({won(ask * UNIT_PRICE)} KRW "
                  "escrowed)")
    s.attempt("broker-a", "offering", "subscribe",
              {"offering_id": offering_id, "account": s.account("lee"), "qty": 15_000},
              "broker-a for lee: 15,000 units (lee's trading hold from act 7 is still active)")
    s.attempt("broker-b", "offering", "subscribe",
              {"offering_id": offering_id, "account": s.account("choi"), "qty": 1_000},
              "broker-b for choi: 1,000 units (AML risk high)")
    offering = s.query("fss", "offering", "get", {"offering_id": offering_id})
    say(f"  {won(offering['subscribers'])} subscribers ask {won(offering['subscribed_qty'])} "
        f"units: {offering['subscribed_qty'] / OFFERED:.1f} times the offering")
    s.tx("broker-a", "identity", "update", {"account": s.account("lionfund"),
                                            "attrs": {"aml_risk": "high"}})
    say("  before the close broker-a rates lionfund AML high-risk: it will be dropped at "
        "allocation")

    wait = max(0.0, offering["end_time"] / 1000 - time.time()) + 1.0
    say(f"\n  The window closes ({wait:.0f} s); issuer-1 allocates in steps of at most 4 "
        "subscriptions a transaction:")
    time.sleep(wait)  # the demo waits for the chain's clock; the tests never do
    calls = 0
    while True:
        receipt = s.client("issuer-1").submit("offering", "allocate",
                                              {"offering_id": offering_id, "max_steps": 4})
        if not receipt.get("ok") and receipt["error"]["code"] == "SUBSCRIPTION_OPEN":
            time.sleep(0.5)  # the next block's time has not reached the close yet
            continue
        if not receipt.get("ok"):
            raise SystemExit(f"allocate refused: {receipt['error']}")
        calls += 1
        if receipt["result"]["done"]:
            break
    book = s.query("issuer-1", "offering", "subscriptions",
                   {"offering_id": offering_id})["subscriptions"]
    say(f"  done in {calls} allocate transactions. The allocation, in draw order "
        "(sha256 of offering id and account):")
    say(text_table(allocation_rows(book, lambda a: s.names.get(a, a[:12])),
                   ALLOCATION_HEADER))
    offering = s.query("fss", "offering", "get", {"offering_id": offering_id})
    info = s.query("fss", "token", "info", {"symbol": SYMBOL})
    refunded = sum(row["refunded"] for row in book)
    say(f"  {won(offering['allocated_qty'])} units issued, {won(refunded)} KRW refunded, "
        f"{won(offering['allocated_qty'] * UNIT_PRICE)} KRW paid to issuer-1 from the "
        f"escrows; reserved on the cap now {won(info['reserved'])}")
    return {"offering_id": offering_id, "book": book, "calls": calls, "offering": offering}


def redemption_act(s: Any) -> dict[str, Any]:
    say(f"\n== 10. Later, {SYMBOL}'s building is sold: issuer-1 redeems every unit at "
        f"{won(REDEMPTION_PRICE)} KRW")
    info = s.query("fss", "token", "info", {"symbol": SYMBOL})
    needed = info["outstanding"] * REDEMPTION_PRICE
    s.tx("bank", "cash", "mint", {"to": s.account("issuer-1"), "amount": needed})
    declared = s.tx("issuer-1", "offering", "redeem_all",
                    {"symbol": SYMBOL, "price": REDEMPTION_PRICE})
    redemption_id = declared["redemption_id"]
    say(f"  redemption {redemption_id}: {won(declared['escrowed'])} KRW escrowed for "
        f"{won(info['outstanding'])} units; the register is the cap table at the end of this "
        f"block, and from the next block {SYMBOL} is paused for good")
    calls = 0
    while True:
        calls += 1
        if s.tx("issuer-1", "offering", "settle",
                {"redemption_id": redemption_id, "max_steps": 2})["done"]:
            break
    redemption = s.query("fss", "offering", "redemption", {"redemption_id": redemption_id})
    record_height = redemption["record_height"]
    say(f"  settled in {calls} transactions of at most 2 holders each: units burned, "
        f"{won(REDEMPTION_PRICE)} KRW paid a unit, withholding on the gain of "
        f"{won(REDEMPTION_PRICE - UNIT_PRICE)} KRW a unit only, by tax class")
    say(text_table(redemption_rows(redemption["entries"],
                                   lambda a: s.names.get(a, a[:12]), TAX_LABELS),
                   REDEMPTION_HEADER))
    regulator = s.client("fss")
    captable = regulator.get(f"/v1/audit/captable?symbol={SYMBOL}&at={record_height}",
                             signed=True)
    issuer = s.account("issuer-1")
    at_record = {row["account"]: row["balance"] for row in captable["holders"]
                 if row["account"] != issuer}
    register = {entry["account"]: entry["units"] for entry in redemption["entries"]}
    same = register == at_record
    say(f"  register = /v1/audit/captable?at={record_height} holder for holder: "
        f"{'yes' if same else 'NO'} ({len(register)} holders)")
    if not same:
        raise SystemExit("the redemption register differs from the audit cap table")
    supply = regulator.get(f"/v1/audit/supply?symbol={SYMBOL}", signed=True)
    say(f"  Audit: {SYMBOL} issued {won(supply['issued'])}, redeemed "
        f"{won(supply['redeemed'])}, outstanding {won(supply['outstanding'])}; reconciles: "
        f"{supply['reconciles']}")
    return {"redemption": redemption, "supply": supply, "calls": calls}
