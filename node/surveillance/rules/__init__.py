"""The surveillance rules S1-S14 (PROTOCOL.md, "Surveillance"): pure functions over the windows.

Each `compute_s*(p, j)` takes its rule's thresholds (genesis.surveillance, where each default is
documented with its source) and the block's Judge (node.surveillance.facts: the windows, the
owners, what the block brought and what is pending), and returns `Finding`s. Rules judge owners
(node.surveillance.owners) as well as single accounts, and effects rather than exact shapes:
sizes and times within tolerances, a layer removed by any means, daily and per-recipient totals,
a close or an opening judged once it is over. Integers only (shares in basis points, prices in
won), block time only, and every iteration over a dict or set is sorted first.

- trading: S1 wash trade, S2 matched orders, S3 spoofing / layering, S4 repeated high bids,
  S10 shared origin;
- price: S5 closing and S14 opening involvement, S7 pump and dump, S11 price or volume
  outlier, S12 price pegging;
- share: S6 participation, S13 order involvement, S8 insider timing, S9 cash structuring;
- sessions: the bounds of a trading session (S5, S14).
"""

from __future__ import annotations

from collections.abc import Callable

from node.surveillance.facts import Finding, Judge
from node.surveillance.rules.price import (
    compute_s5,
    compute_s7,
    compute_s11,
    compute_s12,
    compute_s14,
)
from node.surveillance.rules.share import compute_s6, compute_s8, compute_s9, compute_s13
from node.surveillance.rules.trading import (
    compute_s1,
    compute_s2,
    compute_s3,
    compute_s4,
    compute_s10,
)

# Each rule's severity; a finding may say otherwise where its rule does: S8's unusual position
# of an owner with no insider is medium (an insider's is high), S12's pegging near a record
# date, an offering or a redemption is high. The FDS responder's policy reads these
# (node/fds/default_policy.json).
SEVERITY = {"S1": "high", "S2": "high", "S3": "medium", "S4": "medium", "S5": "medium",
            "S6": "low", "S7": "high", "S8": "high", "S9": "medium", "S10": "medium",
            "S11": "low", "S12": "medium", "S13": "low", "S14": "medium"}
NAMES = {"S1": "wash trade (가장매매)", "S2": "matched orders (통정매매)",
         "S3": "spoofing / layering (허수성 주문)", "S4": "repeated high bids (고가매수 반복)",
         "S5": "closing-price involvement (종가 관여)",
         "S6": "participation concentration (매매 관여율)", "S7": "pump and dump",
         "S8": "insider timing (미공개정보 이용)", "S9": "cash structuring (분할 거래)",
         "S10": "shared origin (차명 의심)",
         "S11": "price or volume outlier (이상 급등락·거래량 급증)",
         "S12": "price pegging (시세 고정)", "S13": "order involvement (주문 관여율)",
         "S14": "opening involvement (시가 관여)"}
RULES: dict[str, Callable[[dict[str, int], Judge], list[Finding]]] = {
    "S1": compute_s1, "S2": compute_s2, "S3": compute_s3, "S4": compute_s4, "S5": compute_s5,
    "S6": compute_s6, "S7": compute_s7, "S8": compute_s8, "S9": compute_s9,
    "S10": compute_s10, "S11": compute_s11, "S12": compute_s12, "S13": compute_s13,
    "S14": compute_s14}


def run(j: Judge) -> list[Finding]:
    """Every enabled rule's findings for the block, in rule order."""
    found: list[Finding] = []
    for rule, compute in RULES.items():
        if j.params[rule]["enabled"]:
            found += compute(j.params[rule], j)
    return found


__all__ = ["NAMES", "RULES", "SEVERITY", "run"]
