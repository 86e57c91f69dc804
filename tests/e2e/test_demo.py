"""The demo story over HTTP on a real 4-node cluster: balances, refusal codes, dividend
arithmetic with withholding, and read access."""

from __future__ import annotations

import pytest

from chaincode.allocation import compute_allocation, draw_key
from node.tools import demo_offering
from node.tools.client import ApiError
from node.tools.demo import SYMBOL, story
from tests.e2e.conftest import start_cluster

pytestmark = pytest.mark.slow


def test_demo_story(tmp_path, capsys):
    net = start_cluster(tmp_path / "net", 4)
    try:
        s = story(net.dir)
        printed = capsys.readouterr().out
        assert "Cap table of SEOUL1" in printed and "REFUSED" in printed
        assert "reconciles" in printed and "): True" in printed
        assert "checked offline against genesis: valid: block" in printed

        assert [code for _, code, _ in s.refused] == [
            "CAP_EXCEEDED", "INSUFFICIENT_BALANCE", "RECIPIENT_NOT_VERIFIED", "AML_BLOCKED",
            "COUNTRY_NOT_ALLOWED", "INVESTMENT_LIMIT_EXCEEDED", "HOLDING_LIMIT_EXCEEDED",
            "INSUFFICIENT_BALANCE",
            "ACCOUNT_HELD", "AML_BLOCKED"]  # act 9: lee's subscription (held), choi's

        def balance(name):
            return s.query("fss", "token", "balance",
                           {"symbol": SYMBOL, "account": s.account(name)})["balance"]

        # issued 300k/150k/100k/40k/10k; park->kim 5k; lee->park 20k; ksd forced hanbit->lee
        # 10k (of hanbit's 40k frozen: 30k stay frozen): the register of the dividend
        names = ("park", "lee", "hanbit", "lionfund", "kim")
        at_record = {"park": 315_000, "lee": 140_000, "hanbit": 90_000, "lionfund": 40_000,
                     "kim": 15_000}
        # then the market: lee -> lionfund 2,000 @ 5,050, park -> lionfund 500 @ 5,100,
        # hanbit -> lee 300 @ 5,150 (the shared origin); kim's buy refused at the fill
        assert {n: balance(n) for n in names} == {
            "park": 314_500, "lee": 138_300, "hanbit": 89_700, "lionfund": 42_500,
            "kim": 15_000}
        cash_from_trading = {"lee": 10_100_000 - 1_545_000, "park": 5_000_000 + 2_550_000,
                             "hanbit": 1_545_000, "lionfund": 20_000_000 - 12_650_000,
                             "kim": 40_000_000}
        supply = s.query("fss", "token", "info", {"symbol": SYMBOL})
        assert supply["issued"] == 600_000 and supply["outstanding"] == 600_000
        assert "holder for holder: yes" in printed

        total = 12_345_678
        rows = {n: s.query("fss", "dividend", "entitlement",
                           {"dividend_id": s.dividend_id, "account": s.account(n)})
                for n in names}
        assert sum(r["gross"] for r in rows.values()) == total
        for name, row in rows.items():
            held = at_record[name]
            assert row["gross"] * 600_000 // total in range(held - 1, held + 1)
            assert row["net"] + row["income_tax"] + row["local_tax"] == row["gross"]
            assert row["status"] == "paid", name  # hanbit's was held (frozen), then released
        assert rows["hanbit"]["class"] == "domestic_corporation"
        assert rows["hanbit"]["income_tax"] == 0
        assert rows["lionfund"]["class"] == "foreign_corporation"
        assert rows["lionfund"]["income_tax"] == rows["lionfund"]["gross"] * 2000 // 10000
        assert rows["kim"]["class"] == "resident_individual"
        assert rows["kim"]["income_tax"] == rows["kim"]["gross"] * 1400 // 10000
        assert rows["park"]["income_tax"] == rows["park"]["gross"] * 1400 // 10000
        assert rows["park"]["local_tax"] == rows["park"]["income_tax"] // 10
        withheld = sum(r["income_tax"] + r["local_tax"] for r in rows.values())
        offering = check_offering_acts(s, printed)
        tax = s.query("fss", "cash", "balance", {"account": s.account("tax")})["balance"]
        assert tax == withheld + offering["withheld"]
        for name, row in rows.items():
            cash = s.query("fss", "cash", "balance", {"account": s.account(name)})["balance"]
            assert cash == row["net"] + cash_from_trading[name] + offering["cash"][name], name

        # the trading act
        trades = s.client("fss").get(f"/v1/audit/trades?symbol={SYMBOL}", signed=True)["trades"]
        assert [(t["price"], t["qty"], s.names[t["seller"]], s.names[t["buyer"]])
                for t in trades] == [(5_050, 2_000, "lee", "lionfund"),
                                     (5_100, 500, "park", "lionfund"),
                                     (5_150, 300, "hanbit", "lee")]
        assert trades[2]["buy_origin"] == trades[2]["sell_origin"]  # the planted wash pair
        assert trades[0]["buy_origin"] != trades[0]["sell_origin"]
        orders = s.client("ksd").get(f"/v1/audit/orders?symbol={SYMBOL}", signed=True)["orders"]
        assert [(o["order_id"], o["code"]) for o in orders if o["status"] == "cancelled"] == [
            (2, "SELF_TRADE"), (3, "ACCOUNT_HELD"), (5, "INVESTMENT_LIMIT_EXCEEDED")]
        assert "trade 3: 300 units hanbit -> lee" in printed and "SAME ORIGIN" in printed
        alerts = s.client("fss").get("/v1/audit/alerts?rule=S1", signed=True)["alerts"]
        assert len(alerts) == 1 and sorted(alerts[0]["accounts"]) == sorted(
            [s.account("lee"), s.account("hanbit")])  # the wash trade, and nothing honest
        assert "S1 " in printed and "accounts: " in printed
        # FDS: the responder held both accounts' trading on the alert (hanbit's resting ask
        # at 5,200 cancelled ACCOUNT_HELD); lee's next order refused; the registrar released
        # hanbit's hold, and hanbit's ask of 1,000 at 5,200 rests again
        holds = s.client("fss").get(f"/v1/audit/holds?alert={alerts[0]['alert_id']}",
                                    signed=True)["holds"]
        assert {(s.names[h["account"]], h["scope"], h["status"], s.names[h["by"]])
                for h in holds} == {("lee", "trading", "active", "ksd"),
                                    ("hanbit", "trading", "released", "ksd")}
        assert all(h["reason"] == f"alert {alerts[0]['alert_id']}" for h in holds)
        assert "REFUSED  broker-a for lee: sell 100 @ 5,150 (hts): ACCOUNT_HELD" in printed
        assert "releases hanbit's hold" in printed
        hanbit = s.query("fss", "token", "balance", {"symbol": SYMBOL,
                                                     "account": s.account("hanbit")})
        assert hanbit["on_order"] == 1_000  # its ask at 5,200 rests again
        park_cash = s.query("fss", "cash", "balance", {"account": s.account("park")})
        assert park_cash["escrowed"] == 200 * 5_100  # its bid rests

        # read access: an investor sees its own balance, not another's
        assert s.query("kim", "token", "balance",
                       {"symbol": SYMBOL, "account": s.account("kim")})["balance"] == 15_000
        for reader, target in (("kim", "park"), ("issuer-1", "tax"), ("broker-a", "park")):
            contract, args = (("cash", {"account": s.account(target)}) if target == "tax"
                              else ("token", {"symbol": SYMBOL, "account": s.account(target)}))
            with pytest.raises(ApiError) as caught:
                s.query(reader, contract, "balance", args)
            assert caught.value.status == 403 and caught.value.code == "forbidden"
        # the regulator writes nothing
        receipt = s.client("fss").submit("cash", "mint", {"to": s.account("fss"), "amount": 1})
        assert not receipt["ok"] and receipt["error"]["code"] == "UNAUTHORIZED"
    finally:
        net.down()


def check_offering_acts(s, printed):
    """Acts 9 and 10: the allocation is the reference's over the eligible subscribers in
    draw order, every escrow settled, and the redemption paid every holder price x units with
    withholding on the gain, leaving nothing outstanding. Returns what they did to each
    investor's cash and to the tax account."""
    offering_id = s.offering["offering_id"]
    book = {s.names[row["account"]]: row for row in s.offering["book"]}
    assert set(book) == set(demo_offering.ASKS)
    assert sum(demo_offering.ASKS.values()) == 3 * demo_offering.OFFERED
    lionfund = book.pop("lionfund")  # rated AML high before the close
    assert (lionfund["status"], lionfund["code"], lionfund["allocated"],
            lionfund["refunded"]) == ("dropped", "AML_BLOCKED", 0,
                                      demo_offering.ASKS["lionfund"] * 5_000)
    order = sorted(book, key=lambda name: draw_key(offering_id, s.account(name)))
    shares = compute_allocation(demo_offering.OFFERED, 5_000,
                                [demo_offering.ASKS[name] for name in order])
    for name, share in zip(order, shares, strict=True):
        row = book[name]
        assert (row["equal"], row["pro_rata"], row["allocated"]) == tuple(share), name
        assert row["allocated"] * 5_000 + row["refunded"] == demo_offering.ASKS[name] * 5_000
    assert sum(share.total for share in shares) == demo_offering.OFFERED
    assert "equal share" in printed and "pro-rata share" in printed
    assert "choi: 1,000 units (AML risk high): AML_BLOCKED" in printed
    assert "lee's trading hold from act 7 is still active): ACCOUNT_HELD" in printed

    redemption = s.redemption["redemption"]
    assert redemption["status"] == "done"
    supply = s.redemption["supply"]
    assert (supply["issued"], supply["redeemed"], supply["outstanding"],
            supply["reconciles"]) == (20_000, 20_000, 0, True)
    rates = {"resident_individual": 1400, "non_resident_individual": 2000,
             "domestic_corporation": 0}
    withheld = 0
    cash = {name: 0 for name in ("park", "lee", "hanbit", "lionfund", "kim")}
    for entry in redemption["entries"]:
        name = s.names[entry["account"]]
        assert entry["units"] == book[name]["allocated"], name
        assert entry["gross"] == 5_600 * entry["units"]
        income_tax = 600 * entry["units"] * rates[entry["class"]] // 10_000
        assert (entry["income_tax"], entry["local_tax"]) == (income_tax, income_tax // 10)
        assert entry["status"] == "paid"
        withheld += entry["income_tax"] + entry["local_tax"]
        if name in cash:
            cash[name] = 100_000_000 * (name != "kim") - entry["units"] * 5_000 + entry["net"]
    cash["lionfund"] = 100_000_000  # minted, escrowed, refunded in full
    assert "holder for holder: yes (5 holders)" in printed
    return {"withheld": withheld, "cash": cash}
