"""How the CLI and the demo show a public offering and a redemption, as plain text.

- `terms(offering)`: one line of the offering's terms and status.
- `allocation_rows(subscriptions, name)`: the allocation table (subscriber, asked, equal share,
  pro-rata share, allocated, refunded, status), one row per subscription in draw order (the
  `draw` field: ascending sha256(offering id || account key), so the table reads in the
  order the leftover units went out), with a totals row.
- `redemption_rows(entries, name)`: one row per registered holder (units, gross, gain,
  income tax, local tax, net, status) with a totals row.
- `text_table(rows, header)`: the rows aligned, numbers to the right.

`name(account)` labels an account (a demo name, or a shortened id). Amounts are printed with
thousands separators; a share that was not rationed (undersubscribed) shows "-".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A holder's tax class as people read it, with its withholding rate (PROTOCOL "dividend"):
# the same words in the demo, `offering redeem` and the demo's dividend table.
TAX_LABELS = {"resident_individual": "resident individual 15.4%",
              "non_resident_individual": "non-resident individual 22%",
              "domestic_corporation": "domestic corporation 0%",
              "foreign_corporation": "foreign corporation 22%"}

ALLOCATION_HEADER = ["subscriber", "asked", "equal share", "pro-rata share", "allocated",
                     "refunded KRW", "status"]
REDEMPTION_HEADER = ["holder", "tax class", "units", "gross KRW", "gain KRW", "income tax",
                     "local tax", "net KRW", "status"]


def won(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def terms(offering: dict[str, Any]) -> str:
    return (f"offering {offering['offering_id']} of {offering['symbol']}: "
            f"{won(offering['qty'])} units at {won(offering['price'])} KRW, "
            f"{won(offering['min_qty'])}..{won(offering['max_qty'])} a subscriber, "
            f"{offering['equal_bps'] / 100:g}% shared equally; {offering['status']}, "
            f"{won(offering['subscribers'])} subscribers asking "
            f"{won(offering['subscribed_qty'])}, {won(offering['allocated_qty'])} allocated")


def allocation_rows(subscriptions: list[dict[str, Any]], name: Callable[[str], str]
                    ) -> list[list[str]]:
    rows: list[list[str]] = []
    totals = [0, 0, 0, 0, 0]
    for sub in sorted(subscriptions, key=lambda row: row["draw"]):
        status = sub["status"] if sub["code"] is None else f"{sub['status']} {sub['code']}"
        rows.append([name(sub["account"]), won(sub["qty"]), won(sub["equal"]),
                     won(sub["pro_rata"]), won(sub["allocated"]), won(sub["refunded"]),
                     status])
        counted = sub["status"] != "withdrawn"
        for i, value in enumerate((sub["qty"] if counted else 0, sub["equal"] or 0,
                                   sub["pro_rata"] or 0, sub["allocated"], sub["refunded"])):
            totals[i] += value
    rows.append(["total"] + [won(v) for v in totals] + [""])
    return rows


def redemption_rows(entries: list[dict[str, Any]], name: Callable[[str], str],
                    labels: dict[str, str] | None = None) -> list[list[str]]:
    rows: list[list[str]] = []
    totals = [0, 0, 0, 0, 0, 0]
    for entry in entries:
        values = (entry["units"], entry["gross"], entry["gain"], entry["income_tax"],
                  entry["local_tax"], entry["net"])
        rows.append([name(entry["account"]),
                     (labels or TAX_LABELS).get(entry["class"], entry["class"])]
                    + [won(v) for v in values] + [entry["status"]])
        totals = [a + b for a, b in zip(totals, values, strict=True)]
    rows.append(["total", ""] + [won(v) for v in totals] + [""])
    return rows


def text_table(rows: list[list[str]], header: list[str], indent: str = "  ") -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return indent + "  ".join(
            v.rjust(w) if v.replace(",", "").lstrip("-").isdigit() or v == "-" else v.ljust(w)
            for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(header), indent + "  ".join("-" * w for w in widths)]
                     + [line(row) for row in rows])
