"""The contract runtime: Contract, Context, ChaincodeError, the state overlay and the registry.

How a transaction runs: the executor gives `Registry.execute` the block's state overlay and the
transaction's facts (caller, tx id, height, block time). The registry opens a child overlay,
binds the arguments to the method's parameters, and calls it with a `Context`. If the method
returns, the child's writes and events join the block; if it raises `ChaincodeError`, they are
dropped and the receipt keeps the code; any other exception is a contract bug, recorded as
`INTERNAL` with its message, and also leaves no writes. A node never goes down for a contract.

What a contract may not do: read a clock, draw randomness, use floats, do I/O, or iterate in
an order that could differ between nodes. It sees state only through its Context, namespaced
as `<contract>/<key>`, with values stored as canonical msgpack. Ranges come back in key order.

Methods are marked `@transaction` (may write; callable in a transaction), `@query` (read-only;
callable through /v1/query and from other contracts), `@internal` (callable only from another
contract through `ctx.call`, e.g. the dividend contract paying through `cash`) or
`@begin_block` (run by the executor at the start of every block, before its transactions, with
no caller: work due at a block boundary, such as fixing a dividend's record height).

The past: a `ChainHistory` (the executor's, over its state history index) lets a contract read
the committed state as of the end of an earlier block (`ctx.call_at(height, ...)` runs a query
or internal method against it) and find the last block before a time
(`ctx.last_height_before(time)`). Both read only committed blocks, so every node gets the same
answer. The chain id (`ctx.chain_id`) is there for signatures that name the chain.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from consensus import codec

MAX_CALL_DEPTH = 4  # contract-to-contract calls; the built-ins need 2
MAX_KEY_CHARS = 512


class ChaincodeError(Exception):
    """A contract's refusal: a stable `code` (e.g. INSUFFICIENT_BALANCE) and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Forbidden(ChaincodeError):
    """The caller may not read this; RPC answers 403 `forbidden`."""

    def __init__(self, message: str) -> None:
        super().__init__("FORBIDDEN", message)


TRANSACTION = "transaction"
QUERY = "query"
INTERNAL = "internal"
BEGIN_BLOCK = "begin_block"


def transaction(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._chaincode_kind = TRANSACTION  # type: ignore[attr-defined]
    return fn


def query(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._chaincode_kind = QUERY  # type: ignore[attr-defined]
    return fn


def internal(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._chaincode_kind = INTERNAL  # type: ignore[attr-defined]
    return fn


def begin_block(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._chaincode_kind = BEGIN_BLOCK  # type: ignore[attr-defined]
    return fn


class StateReader(Protocol):
    """Committed state as the executor sees it: full keys `<contract>/<key>`, raw bytes.
    `range` yields the keys starting with `prefix` that are >= `start`, in key order."""

    def get(self, key: str) -> bytes | None: ...

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]: ...


class ChainHistory(Protocol):
    """The committed past, for contracts (the executor implements it over its store)."""

    def state_at(self, height: int) -> StateReader:
        """The state as of the end of block `height` (0: genesis)."""
        ...

    def time_at(self, height: int) -> int:
        """The time of block `height` (the genesis time for 0)."""
        ...

    def last_height_before(self, time: int) -> int:
        """The last committed height whose block time is before `time` (0 if none)."""
        ...


class MemoryState:
    """A plain dict as a StateReader (tests, and the genesis state before a store exists)."""

    def __init__(self, values: dict[str, bytes] | None = None) -> None:
        self.values: dict[str, bytes] = dict(values or {})

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        for key in sorted(k for k in self.values if k.startswith(prefix) and k >= start):
            yield key, self.values[key]


class Overlay:
    """Buffered writes over a reader; itself a reader. `None` marks a deletion.

    The keys written with a value are also kept sorted (`_live`), and a range skips the base
    entries this overlay wrote over, so a range costs the live keys it yields (plus the base
    entries it passes), not every write of the block so far. Without that, a block of many
    orders, each of which ranges the book a few times while the block's fills leave a trail
    of deleted book keys, was quadratic in its size. What a range yields is exactly what the
    plain merge of (sorted writes, base) yielded, also when the caller writes while it
    iterates: the writes are taken when iteration begins, and a base entry is hidden only by
    a key first written before that (`_first`).

    A transaction writes into the block's overlay itself, between `begin` and `commit` (its
    writes join the block) or `rollback` (they are undone: `writes`, `_live` and `_first` are
    as before `begin`). It reads one overlay less than through an overlay of its own, and its
    writes are not written a second time by a merge."""

    def __init__(self, base: StateReader) -> None:
        self.base = base
        self.writes: dict[str, bytes | None] = {}
        self._live: list[str] = []  # the keys of `writes` whose value is not None, sorted
        self._first: dict[str, int] = {}  # key -> the sequence number of its first write
        # between begin and commit/rollback: key -> its entry in `writes` before its first
        # write since `begin` (absent: _ABSENT)
        self._undo: dict[str, bytes | object | None] | None = None

    def get(self, key: str) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def put(self, key: str, value: bytes) -> None:
        self._write(key, value)

    def delete(self, key: str) -> None:
        self._write(key, None)

    def _write(self, key: str, value: bytes | None) -> None:
        undo = self._undo
        if undo is not None and key not in undo:
            undo[key] = self.writes.get(key, _ABSENT)
        was_live = self.writes.get(key) is not None
        if key not in self._first:
            self._first[key] = len(self._first)
        if value is not None and not was_live:
            bisect.insort(self._live, key)
        elif value is None and was_live:
            del self._live[bisect.bisect_left(self._live, key)]
        self.writes[key] = value

    def range(self, prefix: str, start: str = "") -> Iterator[tuple[str, bytes]]:
        own = []  # taken when iteration begins: later writes do not show
        taken = len(self._first)
        for index in range(bisect.bisect_left(self._live, max(prefix, start)),
                           len(self._live)):
            key = self._live[index]
            if not key.startswith(prefix):
                break
            value = self.writes[key]
            assert value is not None, key
            own.append((key, value))
        first = self._first
        base = ((k, v) for k, v in self.base.range(prefix, start)
                if first.get(k, taken) >= taken)  # not written before iteration began
        yield from heapq.merge(own, base, key=lambda item: item[0])  # disjoint keys

    def first(self, prefix: str, start: str = "") -> tuple[str, bytes] | None:
        """The first item `range(prefix, start)` yields, or None, without merging ranges:
        the smallest live key this overlay wrote there (one bisect) against the first key of
        the base's that this overlay did not write over (an overlay base answers the same way,
        key by key; a store, with one range read as far as that key). A book's next best
        order is one such read, where a range built the overlay's list of the side's live
        keys, and its base's, to yield one."""
        live = self._live
        index = bisect.bisect_left(live, max(prefix, start))
        own = live[index] if index < len(live) and live[index].startswith(prefix) else None
        for key, value in _base_items(self.base, prefix, start):
            if own is not None and key >= own:
                break  # a base key this overlay wrote over, or one after its own
            if key not in self.writes:
                return key, value
        return None if own is None else (own, self.writes[own])  # type: ignore[return-value]

    def sorted_keys(self, deleted: list[str]) -> list[str]:
        """The keys written with a value, and `deleted` (keys written with None), in key
        order: the live keys are kept sorted, so this merges two runs instead of sorting
        every write of a block (the executor's net writes)."""
        return sorted(self._live + deleted)

    def begin(self) -> None:
        """Start a transaction's writes (undone by `rollback`, kept by `commit`)."""
        assert self._undo is None, "a transaction is already open on this overlay"
        self._undo = {}

    def commit(self) -> dict[str, bytes | None]:
        """Keep the writes since `begin`; returns them (each key's last value)."""
        undo = self._undo
        assert undo is not None, "no transaction is open on this overlay"
        self._undo = None
        writes = self.writes
        return {key: writes[key] for key in undo}

    def rollback(self) -> None:
        """Undo every write since `begin`: `writes`, `_live` and `_first` are as they were
        (a key first written since is the last in `_first`'s order, so the sequence numbers
        of the others are unchanged and the next one is the same)."""
        undo = self._undo
        assert undo is not None, "no transaction is open on this overlay"
        self._undo = None
        writes, live, first = self.writes, self._live, self._first
        for key, previous in undo.items():
            is_live = writes[key] is not None
            was_live = previous is not _ABSENT and previous is not None
            if previous is _ABSENT:
                del writes[key]
                del first[key]
            else:
                writes[key] = previous  # type: ignore[assignment]
            if is_live and not was_live:
                del live[bisect.bisect_left(live, key)]
            elif was_live and not is_live:
                bisect.insort(live, key)

    def merge_into(self, parent: Overlay) -> None:
        for key, value in self.writes.items():
            parent._write(key, value)


_ABSENT = object()  # Overlay._undo: the key was not in `writes`


def _base_items(base: StateReader, prefix: str, start: str) -> Iterator[tuple[str, bytes]]:
    """`base.range(prefix, start)`; an overlay's item by item through its `first` (the key
    after `key` is `key + NUL`: no state key contains NUL, StateView._key)."""
    if not isinstance(base, Overlay):
        yield from base.range(prefix, start)
        return
    while (found := base.first(prefix, start)) is not None:
        yield found
        start = found[0] + "\x00"


class StateView:
    """One contract's namespace of an overlay, with values as decoded canonical msgpack."""

    __slots__ = ("_overlay", "_prefix", "_writable")

    def __init__(self, overlay: Overlay, contract: str, writable: bool) -> None:
        self._overlay = overlay
        self._prefix = contract + "/"
        self._writable = writable

    def _key(self, key: str) -> str:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or "\x00" in key:
            raise AssertionError(f"bad state key {key!r}")
        return self._prefix + key

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._overlay.get(self._key(key))
        return default if raw is None else codec.unpack_trusted(raw)  # written by put()

    def put(self, key: str, value: Any) -> None:
        if not self._writable:
            raise ChaincodeError("READ_ONLY", "a query cannot write state")
        self._overlay.put(self._key(key), codec.pack(value))

    def delete(self, key: str) -> None:
        if not self._writable:
            raise ChaincodeError("READ_ONLY", "a query cannot write state")
        self._overlay.delete(self._key(key))

    def first_after(self, prefix: str, key: str) -> tuple[str, Any] | None:
        """The first (key without the namespace, value) of `range(prefix)` after `key`, or
        None: one read (Overlay.first), not a range."""
        found = self._overlay.first(self._prefix + prefix, self._key(key) + "\x00")
        return None if found is None else (found[0][len(self._prefix):],
                                           codec.unpack_trusted(found[1]))

    def range(self, prefix: str = "", start: str = "") -> Iterator[tuple[str, Any]]:
        """(key without the namespace, value) for keys starting with `prefix`, in key order;
        from `start` (a key without the namespace) on, when given."""
        cut = len(self._prefix)
        full_start = self._prefix + start if start else ""
        for key, raw in self._overlay.range(self._prefix + prefix, full_start):
            yield key[cut:], codec.unpack_trusted(raw)


@dataclass(slots=True)
class Event:
    contract: str
    name: str
    data: dict[str, Any]

    def to_map(self) -> dict[str, Any]:
        return {"contract": self.contract, "name": self.name, "data": self.data}


@dataclass(slots=True)
class Context:
    """What a contract sees of the world while one transaction (or query) runs."""

    registry: Registry
    overlay: Overlay
    contract: str
    caller: str  # account id: hex of the sender's public key
    tx_id: str  # hex; "" for a query
    height: int  # the block being executed (for a query: the latest committed height)
    time: int  # block time in ms, from the block header
    writable: bool
    events: list[Event] = field(default_factory=list)
    depth: int = 0
    chain_id: str = ""
    history: ChainHistory | None = None
    view: StateView | None = None  # `state`, made on first use

    @property
    def state(self) -> StateView:
        view = self.view
        if view is None:
            view = self.view = StateView(self.overlay, self.contract, self.writable)
        return view

    @property
    def params(self) -> dict[str, Any]:
        """Chain parameters fixed in genesis (limits, withholding rates, ...)."""
        return self.registry.params

    def emit(self, name: str, data: dict[str, Any]) -> None:
        codec.check(data)  # an event must be encodable; fail inside the transaction if not
        self.events.append(Event(self.contract, name, data))

    def call(self, contract: str, method: str, **args: Any) -> Any:
        """Run another contract's method in this transaction, as the same caller."""
        if self.depth >= MAX_CALL_DEPTH:
            raise AssertionError("contract calls nest too deeply")
        kind, fn = self.registry.lookup(contract, method)
        if kind == TRANSACTION and not self.writable:
            raise ChaincodeError("READ_ONLY", f"{contract}.{method} writes; a query cannot")
        inner = Context(self.registry, self.overlay, contract, self.caller, self.tx_id,
                        self.height, self.time, self.writable and kind != QUERY, self.events,
                        self.depth + 1, self.chain_id, self.history)
        return fn(inner, **args)

    def call_at(self, height: int, contract: str, method: str, **args: Any) -> Any:
        """Run a query or internal method of `contract` read-only against the state as of
        the end of the earlier block `height` (events it emits are dropped)."""
        if self.depth >= MAX_CALL_DEPTH:
            raise AssertionError("contract calls nest too deeply")
        assert 0 <= height < self.height, f"height {height} is not in the past of {self.height}"
        kind, fn = self.registry.lookup(contract, method)
        assert kind in (QUERY, INTERNAL), f"{contract}.{method} is not a read"
        history = self._history()
        past = Context(self.registry, Overlay(history.state_at(height)), contract, self.caller,
                       self.tx_id, height, history.time_at(height), False, [], self.depth + 1,
                       self.chain_id, history)
        return fn(past, **args)

    def last_height_before(self, time: int) -> int:
        """The last committed block whose time is before `time` (0: genesis, if none).
        Only asked for a time at or before this block's, so the answer is committed."""
        assert time <= self.time, "the last block before a future time is not known yet"
        return min(self._history().last_height_before(time), self.height - 1)

    def _history(self) -> ChainHistory:
        if self.history is None:
            raise AssertionError("this context has no chain history (executor bug)")
        return self.history

    def identity(self, account: str) -> dict[str, Any] | None:
        """The identity record of `account` (see chaincode.identity), or None."""
        return self.call("identity", "record", account=account)  # type: ignore[no-any-return]

    def caller_role(self) -> str | None:
        record = self.identity(self.caller)
        return None if record is None else record.get("role")


class Contract:
    """Base of every contract. `name` is its namespace and its name in transactions; `parts`
    the modules of its own code besides its class's (hashed with it, `source_hashes`)."""

    name: ClassVar[str] = ""
    parts: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class Method:
    kind: str
    fn: Callable[..., Any]
    required: frozenset[str]
    optional: frozenset[str]
    call: Callable[..., Any]  # fn, taking wire argument names (`from` for `from_`)


@dataclass(slots=True)
class Outcome:
    """The result of one transaction: what goes into its receipt, and its writes."""

    ok: bool
    result: Any = None
    error: dict[str, str] | None = None
    events: list[Event] = field(default_factory=list)
    writes: dict[str, bytes | None] = field(default_factory=dict)


class Registry:
    """The fixed set of contracts of a chain, and the entry points the executor uses."""

    def __init__(self, contracts: list[Contract], params: dict[str, Any] | None = None) -> None:
        self.params: dict[str, Any] = dict(params or {})
        self.contracts: dict[str, Contract] = {}
        self._methods: dict[tuple[str, str], Method] = {}
        for contract in contracts:
            assert contract.name and contract.name not in self.contracts, contract.name
            self.contracts[contract.name] = contract
            for attr in sorted(dir(type(contract))):
                fn = getattr(contract, attr)
                kind = getattr(fn, "_chaincode_kind", None)
                if kind is None:
                    continue
                parameters = list(inspect.signature(fn).parameters.values())[1:]  # after ctx
                required = frozenset(p.name.rstrip("_") for p in parameters
                                     if p.default is inspect.Parameter.empty)
                optional = frozenset(p.name.rstrip("_") for p in parameters
                                     if p.default is not inspect.Parameter.empty)
                renames = (required | optional) & _KEYWORDS
                self._methods[(contract.name, attr.rstrip("_"))] = Method(
                    kind, fn, required, optional, _bind_keywords(fn) if renames else fn)

    def lookup(self, contract: str, method: str) -> tuple[str, Callable[..., Any]]:
        entry = self._methods.get((contract, method))
        if entry is None:
            raise AssertionError(f"no method {contract}.{method}")
        return entry.kind, entry.call

    def has_contract(self, contract: str) -> bool:
        return contract in self.contracts

    def method_kind(self, contract: str, method: str) -> str | None:
        entry = self._methods.get((contract, method))
        return None if entry is None else entry.kind

    def methods(self) -> list[tuple[str, str, str]]:
        """(contract, method, kind) for every method, sorted."""
        return sorted((c, m, e.kind) for (c, m), e in self._methods.items())

    def _bind(self, contract: str, method: str, kind: str, args: Any) -> Method:
        entry = self._methods.get((contract, method))
        if entry is None or entry.kind != kind:
            raise ChaincodeError("UNKNOWN_METHOD", f"{contract}.{method} is not a {kind}")
        if not isinstance(args, dict):
            raise ChaincodeError("BAD_ARGS", "args is a map")
        missing = entry.required - set(args)
        unexpected = set(args) - entry.required - entry.optional
        if missing or unexpected:
            raise ChaincodeError("BAD_ARGS", f"{contract}.{method}: missing {sorted(missing)}, "
                                 f"unexpected {sorted(unexpected)}")
        return entry

    def execute(self, block_overlay: Overlay, caller: str, tx_id: str, height: int, time: int,
                contract: str, method: str, args: Any, chain_id: str = "",
                history: ChainHistory | None = None) -> Outcome:
        """Run one transaction in `block_overlay`: its writes stay there on success and are
        rolled back on refusal (Overlay.begin)."""
        ctx = Context(self, block_overlay, contract, caller, tx_id, height, time,
                      writable=True, chain_id=chain_id, history=history)
        block_overlay.begin()
        try:
            entry = self._bind(contract, method, TRANSACTION, args)
            result = entry.call(ctx, **args)
            codec.check(result)
        except ChaincodeError as error:
            refused = {"code": error.code, "message": error.message}
        except RecursionError:
            refused = {"code": "INTERNAL", "message": "recursion too deep"}
        except Exception as error:  # a contract bug: recorded, never fatal to the node
            refused = {"code": "INTERNAL", "message": f"{type(error).__name__}: {error}"}
        else:
            return Outcome(True, result, None, ctx.events, block_overlay.commit())
        block_overlay.rollback()
        return Outcome(False, None, refused)

    def begin_block(self, block_overlay: Overlay, height: int, time: int, chain_id: str = "",
                    history: ChainHistory | None = None) -> list[Outcome]:
        """Run every contract's `@begin_block` method (contract name order) at the start of
        block `height`, before its transactions. Each runs like a transaction without a
        caller: its writes join the block if it returns, and are dropped if it raises."""
        outcomes = []
        for (contract, method), entry in sorted(self._methods.items()):
            if entry.kind != BEGIN_BLOCK:
                continue
            ctx = Context(self, block_overlay, contract, "", "", height, time, writable=True,
                          chain_id=chain_id, history=history)
            block_overlay.begin()
            try:
                result = entry.fn(ctx)
                codec.pack(result)
            except ChaincodeError as error:
                refused = {"code": error.code, "message": error.message}
            except Exception as error:  # a contract bug: recorded, never fatal to the node
                refused = {"code": "INTERNAL", "message": f"{contract}.{method}: "
                           f"{type(error).__name__}: {error}"}
            else:
                outcomes.append(Outcome(True, result, None, ctx.events, block_overlay.commit()))
                continue
            block_overlay.rollback()
            outcomes.append(Outcome(False, None, refused))
        return outcomes

    def query(self, state: StateReader, caller: str, height: int, time: int, contract: str,
              method: str, args: Any, history: ChainHistory | None = None) -> Any:
        """Run a query; raises ChaincodeError (Forbidden for read access)."""
        ctx = Context(self, Overlay(state), contract, caller, "", height, time, writable=False,
                      history=history)
        entry = self._bind(contract, method, QUERY, args)
        return entry.call(ctx, **args)

    def source_hashes(self) -> dict[str, str]:
        """sha256 of each contract's source (its class's module, then its `parts` in order),
        and of this runtime (fixed in genesis)."""
        hashes = {"runtime": _file_sha256(__file__)}
        for name, contract in sorted(self.contracts.items()):
            modules = (type(contract).__module__, *contract.parts)
            hashes[name] = _file_sha256(*(sys.modules[module].__file__ or ""
                                          for module in modules))
        return hashes


def _bind_keywords(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Arguments named like Python keywords (`from`) are declared with a trailing `_`."""

    def call(ctx: Context, **args: Any) -> Any:
        return fn(ctx, **{(k + "_" if k in _KEYWORDS else k): v for k, v in args.items()})

    return call


_KEYWORDS = frozenset({"from", "global", "class", "import", "pass", "in", "is", "not", "and",
                       "or", "def", "del", "for", "if", "else", "while", "with", "as", "type"})


def _file_sha256(*paths: str) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


# Argument checks shared by the contracts: each raises BAD_ARGS with a clear message.

def require_int(name: str, value: Any, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise ChaincodeError("BAD_ARGS", f"{name} must be an integer in {minimum}..{maximum}")
    return value


def require_str(name: str, value: Any, max_chars: int = 256) -> str:
    if not isinstance(value, str) or not value or len(value) > max_chars or "\x00" in value:
        raise ChaincodeError("BAD_ARGS", f"{name} must be a non-empty string of at most "
                             f"{max_chars} characters")
    return value


_ACCOUNT = re.compile("[0-9a-f]{64}")


def is_account(value: Any) -> bool:
    """An account id: 64 lowercase hex characters (an Ed25519 public key)."""
    return isinstance(value, str) and len(value) == 64 and _ACCOUNT.fullmatch(value) is not None


def require_account(name: str, value: Any) -> str:
    if not is_account(value):
        raise ChaincodeError("BAD_ARGS", f"{name} must be an account id (64 lowercase hex)")
    return value


def require_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ChaincodeError("BAD_ARGS", f"{name} must be true or false")
    return value


# How a refusal's message writes a time and a duration: as people read them everywhere else
# (node.clock: `2026-12-07 23:31:45 KST`, `3 d`, `1 min 30 s`), in integer arithmetic alone
# (no clock, no time-zone database, no float: every node writes the same bytes). KST is UTC+9
# without daylight saving.

KST_OFFSET_MS = 9 * 3_600_000
DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000),
                  ("ms", 1))


def time_text(time_ms: int) -> str:
    """A block time (Unix ms) as `2026-12-07 23:31:45 KST`, to the second."""
    days, second = divmod((time_ms + KST_OFFSET_MS) // 1000, 86_400)
    year, month, day = _civil_from_days(days)
    return (f"{year:04d}-{month:02d}-{day:02d} {second // 3600:02d}:"
            f"{second % 3600 // 60:02d}:{second % 60:02d} KST")


def duration_text(ms: int) -> str:
    """`3 d`, `1 min 30 s`, `0 ms`: every non-zero unit, largest first."""
    if ms < 0:
        return "-" + duration_text(-ms)
    parts = []
    for unit, size in DURATION_UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 ms"


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a count of days since 1970-01-01, proleptic Gregorian (Howard
    Hinnant's `civil_from_days`: 400-year eras of 146,097 days, years starting in March)."""
    shifted = days + 719_468
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524
                   - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day
