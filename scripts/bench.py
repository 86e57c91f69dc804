#!/usr/bin/env python3
"""Benchmark a local stoledger cluster: `python scripts/bench.py --nodes 4 --rate 500,1000`.

The same as `stoledger bench`; see node/bench.py for what is measured and how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.bench import main
from node.cli.bench import add_arguments

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
