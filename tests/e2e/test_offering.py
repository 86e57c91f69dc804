"""`stoledger offering` against a real node process (-n 1): the issuer opens an offering, two
brokers subscribe their clients (one withdraws and subscribes again), the book reads as the
regulator sees it and not as a broker, the issuer allocates after the close and later redeems
every unit; the node's audit routes agree."""

from __future__ import annotations

import json
import time

import pytest

from chaincode.allocation import compute_allocation, draw_key
from chaincode.identity import sign_consent
from consensus.crypto import Signer
from node.cli import main
from tests.e2e.conftest import start_cluster, wait_until

pytestmark = pytest.mark.slow

SYMBOL = "CLI1"


def run_cli(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as stop:
        return 0 if stop.code is None else (stop.code if isinstance(stop.code, int) else 1)
    return 0


def test_an_offering_and_a_redemption_through_the_cli(tmp_path, capsys):
    net = start_cluster(tmp_path / "net", 1)
    try:
        investors = {"alice": ("broker-a", Signer.generate()),
                     "bob": ("broker-b", Signer.generate())}
        keyfiles = {}
        for name, (broker, signer) in investors.items():
            receipt = net.client(broker).submit("identity", "register", {
                "account": signer.account, "role": "investor",
                "attrs": {"investor_type": "professional", "legal_form": "individual",
                          "country": "KR", "resident": True, "aml_risk": "low",
                          "kyc_expires": int(time.time() * 1000) + 10**10},
                "consent": sign_consent(signer, net.chain_id, net.keys[broker].account,
                                        "investor")})
            assert receipt["ok"], receipt
            assert net.client("bank").submit("cash", "mint", {
                "to": signer.account, "amount": 10**6})["ok"]
            keyfiles[name] = tmp_path / f"{name}.json"
            keyfiles[name].write_text(json.dumps({"account": signer.account,
                                                  "secret": signer.seed.hex()}))
        issuer = net.client("issuer-1")
        for method, args in (("create", {"symbol": SYMBOL, "name": "CLI tower",
                                         "asset_type": "bond", "unit_price": 1_000,
                                         "max_supply": 10_000, "rules": {}}),
                             ("set_document", {"symbol": SYMBOL, "name": "prospectus",
                                               "uri": "https://example.invalid/p.pdf",
                                               "sha256": "ef" * 32})):
            assert issuer.submit("token", method, args)["ok"]
        assert net.client("ksd").submit("token", "approve", {"symbol": SYMBOL,
                                                             "cap": 1_000})["ok"]
        common = ["--dir", str(net.dir)]
        end_ms = int(time.time() * 1000) + 6_000
        assert run_cli("offering", "open", *common, "--key", "issuer-1", "--symbol", SYMBOL,
                       "--price", "1000", "--qty", "100", "--end-ms", str(end_ms),
                       "--equal-bps", "5000") == 0
        assert "offering 1 of CLI1: 100 units at 1,000 KRW" in capsys.readouterr().out
        for name, qty in (("alice", "80"), ("bob", "60")):
            assert run_cli("offering", "subscribe", *common, "--key", investors[name][0],
                           "--offering", "1", "--account", str(keyfiles[name]),
                           "--qty", qty) == 0
        assert run_cli("offering", "subscribe", *common, "--key", "broker-a", "--offering",
                       "1", "--account", str(keyfiles["bob"]), "--qty", "5") == 1
        assert "refused: NOT_YOUR_CLIENT" in capsys.readouterr().err
        assert run_cli("offering", "withdraw", *common, "--key", "broker-b", "--offering", "1",
                       "--account", str(keyfiles["bob"])) == 0
        assert "withdrawn: 60,000 KRW back" in capsys.readouterr().out
        assert run_cli("offering", "subscribe", *common, "--key", "broker-b", "--offering",
                       "1", "--account", str(keyfiles["bob"]), "--qty", "70") == 0
        capsys.readouterr()
        assert run_cli("offering", "status", *common, "--key", "broker-a", "--offering",
                       "1") == 0
        assert "for the issuer, the registrar and the regulator" in capsys.readouterr().out
        assert run_cli("offering", "status", *common, "--key", "fss", "--offering", "1") == 0
        assert "open, 2 subscribers asking 150" in capsys.readouterr().out

        wait_until(lambda: time.time() * 1000 > end_ms + 500, 30, "the window to close")
        assert run_cli("offering", "allocate", *common, "--key", "issuer-1", "--offering", "1",
                       "--max-steps", "2") == 0
        table = capsys.readouterr().out
        total = next(line.split() for line in table.splitlines()
                     if line.strip().startswith("total"))
        # asked 150, equal 50 (25 each), pro rata 50, allocated 100, refunded 50,000 KRW
        assert total[1:6] == ["150", "50", "50", "100", "50,000"], table
        fss = net.client("fss")
        book = fss.get(f"/v1/audit/offerings?symbol={SYMBOL}", signed=True)
        assert book["offerings"][0]["status"] == "allocated"
        order = sorted(("alice", "bob"), key=lambda n: draw_key(1, investors[n][1].account))
        expected = compute_allocation(100, 5_000, [{"alice": 80, "bob": 70}[n] for n in order])
        allocated = {row["account"]: row["allocated"] for row in book["subscriptions"]
                     if row["status"] == "allocated"}
        assert [allocated[investors[n][1].account] for n in order] == [
            share.total for share in expected]

        assert net.client("bank").submit("cash", "mint", {"to": net.keys["issuer-1"].account,
                                                          "amount": 50_000})["ok"]
        assert run_cli("offering", "redeem", *common, "--key", "issuer-1", "--symbol", SYMBOL,
                       "--price", "1200", "--max-steps", "1") == 0
        out = capsys.readouterr().out
        assert "redemption 1 of CLI1 at 1,200 KRW a unit" in out and "done, 100 units" in out
        supply = fss.get(f"/v1/audit/supply?symbol={SYMBOL}", signed=True)
        assert (supply["issued"], supply["redeemed"], supply["outstanding"],
                supply["reconciles"]) == (100, 100, 0, True)
    finally:
        net.down()
