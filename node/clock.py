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

# one definition: the chaincode's refusal messages and what the tools print write durations alike
from chaincode.runtime import DURATION_UNITS, duration_text  # noqa: F401 (re-exported)

KST = datetime.timezone(datetime.timedelta(hours=9), "KST")


def now_ms() -> int:
    return int(time.time() * 1000)


def kst_text(time_ms: int) -> str:
    """`2026-12-07 21:46:34 KST`: the second in Korea Standard Time, with the zone."""
    moment = datetime.datetime.fromtimestamp(time_ms // 1000, KST)
    return moment.strftime("%Y-%m-%d %H:%M:%S KST")
