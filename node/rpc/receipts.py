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

So a submitter keeps its whole receipt by signing: `POST /v1/tx?wait=commit` with the
sender's signed-request header (node.tools.client does), or a signed `GET /v1/tx/{id}`.
"""

from __future__ import annotations

from typing import Any

from consensus.codec import sha256
from node.admission.tx import TxError, decode_body, to_json
from node.ledger.executor import Executor, Receipt
from node.rpc.events import SEES_EVERYTHING, BrokerOf, Viewer, visible


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The whole receipt: for block readers (`GET /v1/blocks`), who read the block anyway."""
    return {"tx_id": receipt.tx_id.hex(), "status": "committed", "height": receipt.height,
            "index": receipt.index, "ok": receipt.ok, "result": to_json(receipt.result),
            "error": receipt.error, "events": to_json(receipt.events),
            "block_hash": receipt.block_hash.hex()}


def shown_receipt(receipt: Receipt, viewer: Viewer | None, sender: str | None,
                  broker_of: BrokerOf | None) -> dict[str, Any]:
    """`receipt` as `viewer` (None: an unsigned request) may see it; `sender` is the
    transaction's sender (hex account), needed only for a viewer who does not see it all."""
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
        seen = (visible(viewer, event, broker_of) for event in receipt.events)
        shown["events"] = [to_json(event) for event in seen if event is not None]
    return shown


def sender_of(executor: Executor, receipt: Receipt) -> str | None:
    """The sender (hex account) of a committed transaction, from its block."""
    block = executor.block(receipt.height)
    assert block is not None, receipt.height  # the receipt was written with its block
    for body, sig in block.txs:
        if sha256(body) == receipt.tx_id:
            try:
                return decode_body(body, sig).sender_hex
            except TxError:  # executed, so it decoded then: this node's store is damaged
                raise AssertionError(f"block {receipt.height} holds an undecodable "
                                     f"transaction {receipt.tx_id.hex()}") from None
    raise AssertionError(f"block {receipt.height} lacks transaction {receipt.tx_id.hex()}")
