"""`stoledger tx submit|sign --consent-key`: identity.register with the account's consent
(issue #13 item 7), signed over the chain, the registering key and the role."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from chaincode.identity import is_consent
from consensus.crypto import Signer
from node.cli import build_parser
from node.cli.tx import tx_args


def test_consent_key_signs_the_registration(tmp_path: Path) -> None:
    investor, broker = Signer(bytes(range(32))), Signer(bytes(32))
    key = tmp_path / "alice.json"
    key.write_text(json.dumps({"account": investor.account, "secret": investor.seed.hex()}))
    client = SimpleNamespace(chain_id="chain-x", signer=broker)
    args = build_parser().parse_args([
        "tx", "sign", "--key", "broker-a", "--consent-key", str(key), "identity", "register",
        json.dumps({"role": "investor", "attrs": {}})])
    values = tx_args(args, client)
    assert values["account"] == investor.account
    assert is_consent("chain-x", investor.account, broker.account, "investor",
                      values["consent"])
    assert not is_consent("chain-y", investor.account, broker.account, "investor",
                          values["consent"])
    wrong = build_parser().parse_args([
        "tx", "submit", "--key", "broker-a", "--consent-key", str(key), "identity", "register",
        json.dumps({"account": broker.account, "role": "investor"})])
    with pytest.raises(SystemExit, match="not the key"):
        tx_args(wrong, client)
    other = build_parser().parse_args([
        "tx", "submit", "--key", "bank", "--consent-key", str(key), "cash", "mint", "{}"])
    with pytest.raises(SystemExit, match="identity register"):
        tx_args(other, client)
