"""The node's wall clock, in Unix milliseconds: the one place a real node reads the time. The
replica hears it only as `Tick`; the simulator uses its virtual clock instead.

Also how a time or a duration in milliseconds is written for people, the same everywhere
(the CLI, the demo, alert explanations, and node/console/static/i18n.js, which must agree):
a time in Korea Standard Time with its zone, `2026-12-07 21:46:34 KST` (UTC+9, no daylight
saving), and a duration in whole units, largest first, `1 d`, `1 min 30 s`, `94 ms`. Both
are pure functions of their integer argument.
"""

from __future__ import annotations

import datetime
import time

KST = datetime.timezone(datetime.timedelta(hours=9), "KST")
DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000),
                  ("ms", 1))


def now_ms() -> int:
    return int(time.time() * 1000)


def kst_text(time_ms: int) -> str:
    """`2026-12-07 21:46:34 KST`: the second in Korea Standard Time, with the zone."""
    moment = datetime.datetime.fromtimestamp(time_ms // 1000, KST)
    return moment.strftime("%Y-%m-%d %H:%M:%S KST")


def duration_text(ms: int) -> str:
    """`1 d`, `2 h 5 min`, `1 min 30 s`, `94 ms`, `0 ms`: every non-zero unit, largest first."""
    if ms < 0:
        return "-" + duration_text(-ms)
    parts = []
    for unit, size in DURATION_UNITS:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 ms"
