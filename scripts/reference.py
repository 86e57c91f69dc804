#!/usr/bin/env python3
"""Rewrite the generated blocks of docs/reference.md from the code (node/tools/reference.py):
the routes from the OpenAPI document, the contracts from their registry.

    python scripts/reference.py            rewrite docs/reference.md
    python scripts/reference.py --check    exit 1 if it differs from what the code gives
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.tools.reference import generated_blocks, update  # noqa: E402

REFERENCE = ROOT / "docs" / "reference.md"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if docs/reference.md is out of date")
    args = parser.parse_args()
    text = REFERENCE.read_text(encoding="utf-8")
    fresh = update(text, generated_blocks())
    if args.check:
        if fresh != text:
            sys.exit("docs/reference.md is out of date: run `python scripts/reference.py`")
        print("docs/reference.md matches the code")
    elif fresh != text:
        REFERENCE.write_text(fresh, encoding="utf-8")
        print("rewrote the generated blocks of docs/reference.md")
    else:
        print("docs/reference.md already matches the code")
