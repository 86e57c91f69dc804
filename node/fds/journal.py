"""What the responder did, kept on disk in NET/fds/ so that a restart repeats nothing.

    NET/fds/state.json       {"chain_id", "last_event_id" ("H.i"), "height", "node", "time"}:
                             the last event handled, written atomically (a temporary file,
                             fsync, rename), so a crash leaves the old position or the new one
    NET/fds/decisions.jsonl  one JSON line per decision, appended and fsynced before the
                             responder moves on: {"time", "alert_id", "rule", "severity",
                             "account", "scope", "outcome", "hold_id", "code", "message",
                             "node", "tx_id", "source"}
    NET/fds/responder.pid    the pid of the running responder (one per network folder), which
                             holds an flock on it while it runs: a file nobody locks is a
                             leftover of a crash, whatever process that pid names now

Outcomes: `held` (hold placed, `hold_id`), `already_held` (ALREADY_HELD: an active hold of that
scope on that alert exists), `refused` (another chaincode code, e.g. NOT_REGISTERED), `no_rule`
(no policy entry matches: a person decides; `account` and `scope` are null).

Once per alert, account and scope: `is_done` answers from the decisions of this folder, so a
hold a person released is not placed again when the responder restarts and reads the alert a
second time. Only the latest MAX_REMEMBERED decisions are kept in memory: the responder resumes
from its last position, so an older alert is never read again.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_REMEMBERED = 100_000  # decisions kept in memory for is_done (~15 MB); far more than the
# alerts between two positions the responder could resume from
MAX_LINE_BYTES = 64 * 1024  # a decisions line longer than this is not ours: refused on load

Key = tuple[str, str | None, str | None]  # (alert_id, account, scope)


class JournalError(Exception):
    """A journal that cannot be used (another responder runs, or a file is not ours)."""


class Journal:
    def __init__(self, net_dir: str | Path) -> None:
        self.dir = Path(net_dir) / "fds"
        self.state_path = self.dir / "state.json"
        self.decisions_path = self.dir / "decisions.jsonl"
        self.pid_path = self.dir / "responder.pid"
        self.done: OrderedDict[Key, None] = OrderedDict()
        self._lock: Any = None  # the open, locked pid file while this process is the responder

    # ---- position ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any] | None:
        if not self.state_path.exists():
            return None
        try:
            value = json.loads(self.state_path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise JournalError(f"{self.state_path} is not ours: {error}") from None
        if not isinstance(value, dict) or not isinstance(value.get("height"), int):
            raise JournalError(f"{self.state_path} has no height")
        return value

    def save_state(self, chain_id: str, last_event_id: str, height: int, node: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        value = {"chain_id": chain_id, "last_event_id": last_event_id, "height": height,
                 "node": node, "time": int(time.time() * 1000)}
        temporary = self.state_path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(value, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)

    # ---- decisions ---------------------------------------------------------------------------

    def load(self) -> None:
        """Read the decisions made so far into `done` (the latest MAX_REMEMBERED), one line
        at a time: memory stays bounded however long the file has grown."""
        self.done.clear()
        for decision in self.each_decision():
            self._remember(decision)

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision, oldest first (tests; `fds status` reads `each_decision`)."""
        return list(self.each_decision())

    def each_decision(self) -> Iterator[dict[str, Any]]:
        """The decisions, oldest first, read as they are used."""
        if not self.decisions_path.exists():
            return
        with open(self.decisions_path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if len(line) > MAX_LINE_BYTES:
                    raise JournalError(f"{self.decisions_path}:{number} is too long")
                if not line.endswith(b"\n"):
                    return  # a line cut by a crash while it was written: never acted on
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise JournalError(f"{self.decisions_path}:{number}: {error}") from None

    def is_done(self, alert_id: str, account: str | None, scope: str | None) -> bool:
        return (alert_id, account, scope) in self.done

    def record(self, decision: dict[str, Any]) -> None:
        """Append one decision and make it durable before the responder goes on."""
        self.dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps(decision, ensure_ascii=False, sort_keys=True) + "\n"
        with open(self.decisions_path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._remember(decision)

    def _remember(self, decision: dict[str, Any]) -> None:
        key = (decision["alert_id"], decision.get("account"), decision.get("scope"))
        self.done[key] = None
        self.done.move_to_end(key)
        while len(self.done) > MAX_REMEMBERED:
            self.done.popitem(last=False)

    # ---- one responder per folder ------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of a responder running on this folder, if any: whoever holds the lock on
        the pid file (flock). A file left by a crash is locked by no one, whatever process has
        that pid now."""
        try:
            handle = open(self.pid_path, "rb")  # noqa: SIM115 - closed below, lock or not
        except FileNotFoundError:
            return None
        with handle:
            if self._lock is not None and os.path.sameopenfile(handle.fileno(),
                                                               self._lock.fileno()):
                return os.getpid()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_pid(handle)
            return None

    def claim(self) -> None:
        """Lock the pid file for this process (JournalError if another responder holds it);
        the lock goes with the process, so a crash leaves nothing that blocks a restart."""
        self.dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.pid_path, "a+b")  # noqa: SIM115 - kept open while we run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(handle)
            handle.close()
            raise JournalError(f"a responder already runs on this folder (pid {pid})") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._lock = handle

    def release(self) -> None:
        if self._lock is None:
            return
        self.pid_path.unlink(missing_ok=True)
        self._lock.close()  # and with it the lock
        self._lock = None


def _read_pid(handle: Any) -> int | None:
    handle.seek(0)
    try:
        return int(handle.read(32).decode("ascii").strip())
    except ValueError:
        return None
