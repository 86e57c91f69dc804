"""Issue 13, finding 4: `can_transfer` is no oracle for the recipient's facts.

Before, an investor recovered another investor's exact balance by binary search against
HOLDING_LIMIT_EXCEEDED and learned others' AML and verification status, while `balance`
answered FORBIDDEN. Now a caller entitled to the sender's facts only (the sender itself) gets
the sender-side checks, and an answer that is the same whatever the recipient's state; those
entitled to both parties' facts (their brokers, the issuer, the registrar, the regulator) get
the exact prediction."""

from __future__ import annotations

from typing import Any

from tests.chaincode.helpers import Chain, world


def ask(chain: Chain, reader: str, to: str, amount: int, sender: str = "alice") -> dict[str, Any]:
    return chain.query(reader, "token", "can_transfer", symbol="APT1", from_=chain[sender],
                       to=chain[to], amount=amount)


def setup(**rules: Any) -> Chain:
    chain = world(max_holding_bps=100, **rules)  # at most 10,000 units per holder
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["alice"], amount=9_000)
    chain.ok("issuer-1", "token", "issue", symbol="APT1", to=chain["erin"], amount=9_500)
    return chain


def test_an_investor_cannot_search_another_investors_balance():
    chain = setup()
    chain.time += 10**9  # past any lock-up
    answers = {amount: ask(chain, "alice", "erin", amount)
               for amount in (1, 499, 500, 501, 1_000, 9_000)}
    # 500 is erin's headroom under the holding limit: nothing tells 500 from 501
    assert {a["code"] for a in answers.values()} == {"RECIPIENT_UNDISCLOSED"}
    assert all(a["ok"] is None for a in answers.values())
    assert ask(chain, "alice", "erin", 9_001)["code"] == "INSUFFICIENT_BALANCE"  # her own facts


def test_the_answer_does_not_depend_on_the_recipients_facts():
    chain = setup()
    chain.time += 10**9
    before = [ask(chain, "alice", "erin", amount) for amount in (1, 600)]
    chain.ok("broker-b", "identity", "update", account=chain["erin"],
             attrs={"aml_risk": "high"})
    assert [ask(chain, "alice", "erin", amount) for amount in (1, 600)] == before
    chain.ok("broker-b", "identity", "revoke", account=chain["erin"], reason="test")
    assert [ask(chain, "alice", "erin", amount) for amount in (1, 600)] == before


def test_those_entitled_to_both_parties_get_the_exact_prediction():
    chain = setup()
    chain.time += 10**9
    for reader in ("issuer-1", "ksd", "fss"):
        assert ask(chain, reader, "erin", 500)["code"] == "OK"
        assert ask(chain, reader, "erin", 501)["code"] == "HOLDING_LIMIT_EXCEEDED"
    assert ask(chain, "broker-a", "bob", 501)["ok"] is True  # both its clients
    assert ask(chain, "broker-a", "erin", 501)["code"] == "RECIPIENT_UNDISCLOSED"


def test_sender_side_failures_are_still_told_to_the_sender():
    chain = setup(lockup_ms=10**6)  # alice's units are in lock-up
    assert ask(chain, "alice", "erin", 10)["code"] == "LOCKUP_ACTIVE"
    chain.ok("issuer-1", "token", "pause", symbol="APT1")
    assert ask(chain, "alice", "erin", 10)["code"] == "TOKEN_PAUSED"
