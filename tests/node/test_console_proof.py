"""The console's in-browser checks (node/console/static/proof.js) agree with the node's own
(node/ledger/proof.py, consensus/block.py): the same proofs and blocks, run through the ES
module under Node.js (its WebCrypto has Ed25519 and SHA-256, as Chromium's does), get the same
verdicts. Above all on tx_root, which commits to every transaction's signature: a proof or a
block whose transactions carry another signature fails in both."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from node.console import STATIC_DIR
from node.ledger.proof import verify_proof
from node.rpc.audit import proof_json
from node.rpc.server import block_json
from tests.node.test_audit import Ledger, StandInNode
from tests.node.test_proof import TAMPERINGS

NODE = shutil.which("node") or shutil.which("nodejs")
RUN_TIMEOUT_S = 60

SCRIPT = """
import { checkTransactions, verifyProof } from %s;
let text = "";
for await (const chunk of process.stdin) text += chunk;
const input = JSON.parse(text);
const out = [];
for (const proof of input.proofs) {
  const r = await verifyProof(input.genesis, proof);
  out.push({ ok: r.ok, reason: r.reason });
}
for (const block of input.blocks) out.push(await checkTransactions(block));
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    led = Ledger()
    bank = led.account("bank")
    for amount in (10, 20, 30):
        led.commit(led.tx("bank", "cash", "mint", to=bank, amount=amount),
                   led.tx("bank", "cash", "mint", to=bank, amount=amount + 1))
    return led


def run_console_checks(ledger: Ledger, proofs: list[Any], blocks: list[Any]) -> list[Any]:
    assert NODE is not None, "Node.js runs the console's checks here (apt-get install nodejs)"
    module = json.dumps((Path(STATIC_DIR) / "proof.js").resolve().as_uri())
    genesis = {"chain_id": ledger.genesis.chain_id,
               "operators": [{"name": op.name, "public_key": op.public_key.hex()}
                             for op in ledger.genesis.operators]}
    done = subprocess.run([NODE, "--input-type=module", "-e", SCRIPT % module],
                          input=json.dumps({"genesis": genesis, "proofs": proofs,
                                            "blocks": blocks}),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout)
    return results


def test_the_console_and_the_node_agree_on_every_proof(ledger: Ledger) -> None:
    real = proof_json(StandInNode(ledger), 2)
    proofs = [real]
    for tamper in TAMPERINGS:
        tampered = copy.deepcopy(real)
        tamper(tampered, ledger)
        proofs.append(tampered)
    console = run_console_checks(ledger, proofs, [])
    node = [verify_proof(ledger.genesis, proof) for proof in proofs]
    assert [r["ok"] for r in console] == [ok for ok, _ in node]
    assert console[0]["ok"] and sum(r["ok"] for r in console) == 1
    for (_, reason), result in zip(node, console, strict=True):
        if "tx_" in reason:  # the tx_root rule: word for word
            assert result["reason"] == reason, (result, reason)


def test_the_console_checks_a_blocks_transactions_against_tx_root(ledger: Ledger) -> None:
    real = block_json(StandInNode(ledger), 2)
    assert len(real["transactions"]) == 2
    forged = copy.deepcopy(real)
    sig = forged["transactions"][1]["sig"]
    forged["transactions"][1]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    dropped = copy.deepcopy(real)
    dropped["transactions"] = dropped["transactions"][:1]
    results = run_console_checks(ledger, [], [real, forged, dropped])
    assert [r["ok"] for r in results] == [True, False, False]
    assert results[1]["reason"] == "the transactions do not hash to the header's tx_root"
