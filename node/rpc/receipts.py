"""What a receipt shows each caller (PROTOCOL "Receipt"): what the events route shows it.

A committed transaction's receipt holds its result, its error's message and its events, and
these name accounts: a fill's `Trade`, token `Transfer` and `CashTransfer` name both sides of
a trade. Receipts are read by transaction id, and a `Trade` event (which every registered
account sees) carries its `tx_id`; so a receipt answered whole to anyone made the events
route's rules worthless (issue 27, item 1: a broker learnt its client's counterparty).

- Unsigned (`GET /v1/tx/{id}`, or `POST /v1/tx?wait=commit` without an Authorization
  header): the transaction's place and outcome only: `status`, `height`, `index`, `ok`,
  `block_hash` (public: `/v1/status` shows every hash in turn) and the error's `code`;
  `result`, the error's `message` (`null`) and `events` (`[]`) are withheld.
- Signed (the same routes with a signed-request header): `events` are each shown as
  `node.rpc.events.visible` shows them to that caller on `/v1/events` (the same function, so
  a contract's new events follow the stream's rules without a list here); `result` and the
  error's `message` go to the transaction's sender (its own call's answer, as a query's result
  is its caller's) and to those who see every event (the regulator, the registrar, the
  operators), `null` to others.
- The sender also sees, whole, each event of its own transaction that names no account but
  its own and those its arguments name (the bank's `Minted` to the `to` it gave, a transfer
  to the recipient it chose): it wrote those accounts itself, so the event tells it nothing
  about anyone else. An event naming another account (a fill's counterparty, the holders a
  dividend step paid) is shown to it as the stream shows it (walkthrough red team F9: the
  bank saw `events: []` for its own mint).

So a submitter keeps its whole receipt by signing: `POST /v1/tx?wait=commit` with the
sender's signed-request header (node.tools.client does), or a signed `GET /v1/tx/{id}`.
"""

from __future__ import annotations

from typing import Any

from consensus.codec import sha256
from node.admission.tx import TxError, decode_body, to_json
from node.ledger.audit import accounts_named
from node.ledger.executor import Executor, Receipt
from node.rpc.events import SEES_EVERYTHING, BrokerOf, Viewer, visible


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The whole receipt: for block readers (`GET /v1/blocks`), who read the block anyway."""
    return {"tx_id": receipt.tx_id.hex(), "status": "committed", "height": receipt.height,
            "index": receipt.index, "ok": receipt.ok, "result": to_json(receipt.result),
            "error": receipt.error, "events": to_json(receipt.events),
            "block_hash": receipt.block_hash.hex()}


def shown_receipt(receipt: Receipt, viewer: Viewer | None, sender: str | None,
                  broker_of: BrokerOf | None, args: Any = None) -> dict[str, Any]:
    """`receipt` as `viewer` (None: an unsigned request) may see it; `sender` is the
    transaction's sender (hex account) and `args` its arguments, needed only for a viewer who
    does not see it all."""
    shown = receipt_json(receipt)
    answers = viewer is not None and (viewer.role in SEES_EVERYTHING
                                      or viewer.account == sender)
    if not answers:
        shown["result"] = None
        if receipt.error is not None:
            shown["error"] = {"code": receipt.error["code"], "message": None}
    if viewer is None:
        shown["events"] = []
    elif viewer.role not in SEES_EVERYTHING:
        written: set[str] | None = None  # the accounts the sender wrote into its call
        if viewer.account == sender:
            written = {viewer.account}
            accounts_named(args, written)
        seen = (event if written is not None and names_only(event, written)
                else visible(viewer, event, broker_of) for event in receipt.events)
        shown["events"] = [to_json(event) for event in seen if event is not None]
    return shown


def names_only(event: dict[str, Any], accounts: set[str]) -> bool:
    """Whether every account `event` names is one of `accounts`."""
    named: set[str] = set()
    accounts_named(event.get("data"), named)
    return named <= accounts


def transaction_of(executor: Executor, receipt: Receipt) -> Any:
    """The decoded transaction of a committed receipt (its sender, its args), from its
    block."""
    block = executor.block(receipt.height)
    assert block is not None, receipt.height  # the receipt was written with its block
    for body, sig in block.txs:
        if sha256(body) == receipt.tx_id:
            try:
                return decode_body(body, sig)
            except TxError:  # executed, so it decoded then: this node's store is damaged
                raise AssertionError(f"block {receipt.height} holds an undecodable "
                                     f"transaction {receipt.tx_id.hex()}") from None
    raise AssertionError(f"block {receipt.height} lacks transaction {receipt.tx_id.hex()}")
