"""Audit indexes, written in the same atomic batch as each block (see node.ledger.executor).

    a/acct/<account>\\x00<height><index>   -> tx id     every tx whose sender, args or events
                                                        name the account
    a/sym/<symbol>\\x00<height><index>     -> tx id     every tx whose args or events name it,
                                                        or whose args name one of its records
                                                        (an offering, redemption or dividend id)
    a/rej/<code>\\x00<height><index>       -> tx id     every committed tx chaincode refused
    a/rej/*\\x00<height><index>            -> tx id     the same, across codes, for ranges
    a/div/<symbol>\\x00<height><index>     -> tx id     every successful dividend transaction
                                                        (declare, pay) of the token

Deterministic: built only from the block's transactions and receipts and the state as of the
end of the block (`AppliedBlock.read`, to find the token of an offering id), in block order,
and written into the block's own batch (nothing here reads the clock). A node that
indexed blocks before an index kind existed lacks it for those blocks; replaying its store
from genesis (a fresh data directory) rebuilds every index.
"""

from __future__ import annotations

from typing import Any

from chaincode.runtime import is_account
from consensus import codec
from node.ledger.executor import AppliedBlock
from node.storage import Batch
from node.storage import schema as s

ALL_CODES = "*"
ACCOUNT_CHARS = 64  # an account id is 64 lowercase hex (chaincode.runtime.is_account)
DIVIDENDS = "div"


# Fields whose value is a 64-hex digest, never an account id, although it looks like one: the
# market's `origin` (sha256 of the client's IP and device, PROTOCOL "market"), a document's
# `sha256`, transaction ids and block hashes.
NOT_ACCOUNTS = frozenset({"origin", "buy_origin", "sell_origin", "sha256", "tx_id",
                          "placed_tx", "block_hash", "hash", "last_block_hash"})


def accounts_named(value: Any, into: set[str]) -> None:
    """Add to `into` every account id in `value` (nested maps and lists), skipping the fields
    of NOT_ACCOUNTS. A map's string values are tested in place, not by a call each: most of
    the fields of a transaction's args and events are short strings and integers."""
    if isinstance(value, str):
        if is_account(value):
            into.add(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str):
                if len(item) == ACCOUNT_CHARS and name not in NOT_ACCOUNTS and is_account(item):
                    into.add(item)
            elif isinstance(item, dict | list) and name not in NOT_ACCOUNTS:
                accounts_named(item, into)
    elif isinstance(value, list):
        for item in value:
            accounts_named(item, into)


def symbols_named(args: Any, events: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for source in [args] + [event.get("data") for event in events]:
        if isinstance(source, dict) and isinstance(source.get("symbol"), str):
            found.add(source["symbol"])
    return found


# Arguments that name a token through a record of it: an offering's steps (subscribe, withdraw,
# allocate, cancel), a redemption's settle and a dividend's pay and release carry the record's
# id, not the symbol (walkthrough red team F5: `history --symbol` missed them, and the
# subscriptions refused on an offering of the token).
RECORDS_BY_ID = {("offering", "offering_id"): "offering/off/",
                 ("offering", "redemption_id"): "offering/red/",
                 ("dividend", "dividend_id"): "dividend/div/"}
MAX_RECORD_ID = 10**12 - 1  # ids are 12 digits in their keys


def symbols_of_records(contract: str, args: Any, read: Any) -> set[str]:
    """The tokens of the records `args` names by id (RECORDS_BY_ID), as of the block's end."""
    found: set[str] = set()
    if read is None or not isinstance(args, dict):
        return found
    for (owner, field), prefix in RECORDS_BY_ID.items():
        value = args.get(field)
        if (contract != owner or not isinstance(value, int) or isinstance(value, bool)
                or not 0 < value <= MAX_RECORD_ID):
            continue
        raw = read(f"{prefix}{value:012d}")
        record = codec.unpack(raw) if raw else None
        if isinstance(record, dict) and isinstance(record.get("symbol"), str):
            found.add(record["symbol"])
    return found


def audit_indexer(applied: AppliedBlock, batch: Batch) -> None:
    put = batch.put
    for tx, receipt in zip(applied.txs, applied.receipts, strict=True):
        position = s.position(receipt.height, receipt.index)
        accounts: set[str] = {tx.sender_hex}
        accounts_named(tx.args, accounts)
        for event in receipt.events:
            accounts_named(event.get("data"), accounts)
        for account in sorted(accounts):
            put(s.audit_prefix("acct", account) + position, b"")
        symbols = symbols_named(tx.args, receipt.events)
        symbols |= symbols_of_records(tx.contract, tx.args, applied.read)
        for symbol in sorted(symbols):
            put(s.audit_prefix("sym", symbol) + position, b"")
        if not receipt.ok and receipt.error is not None:
            put(s.audit_prefix("rej", receipt.error["code"]) + position, b"")
            put(s.audit_prefix("rej", ALL_CODES) + position, b"")
        if receipt.ok and tx.contract == "dividend":
            for symbol in sorted(symbols_named(receipt.result, receipt.events)):
                put(s.audit_prefix(DIVIDENDS, symbol) + position, b"")
