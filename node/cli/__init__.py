"""`stoledger`: the command line, one module per command group. Each subcommand's --help says
what it does.

    stoledger genesis init --dir DIR [-n N] [--observer]
    stoledger node run|check --config DIR/nodes/<name>/config.toml
    stoledger cluster up|down|status --dir DIR [-n N] [--observer]
    stoledger tx submit|sign --dir DIR --key KEY [--consent-key KEYFILE] contract method
        [ARGS_JSON]
    stoledger query --dir DIR --key KEY contract method [ARGS_JSON]
    stoledger market place|cancel|book|quote|trades --dir DIR --key BROKER ...  (node/cli/market.py)
    stoledger offering open|subscribe|withdraw|allocate|status|redeem ...  (node/cli/offering.py)
    stoledger audit ...  (node/cli/audit.py)    stoledger sim ...  (node/cli/sim.py)
    stoledger bench ...  (node/cli/bench.py)    stoledger demo [--dir DIR] [-n N]
    stoledger console --dir DIR  (the URL of the web console)
    stoledger fds run|status --dir DIR [--key KEY] [--policy FILE]  (node/cli/fds.py: the
        automatic responder that holds accounts on surveillance alerts)
    stoledger market-sim [--seeds N] [--plant all|none|S1,...]  (node/cli/market_sim.py)

The CLI is the top room of node/: it may import any other, and nothing imports it. A command
group's module imports the heavy parts it drives inside its command functions, so `--help`
stays fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from node.cli import (
    audit,
    bench,
    console,
    demo,
    fds,
    market,
    market_sim,
    network,
    offering,
    sim,
    tx,
)

GROUPS = (network, tx, market, offering, audit, fds, sim, market_sim, bench, demo, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stoledger",
        description="A permissioned PBFT ledger for Korean token securities (토큰증권).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Start here: `stoledger demo` runs the whole story on a local cluster.\n"
               "The client reference (encoding, signing, routes, contracts, error codes) is "
               "docs/reference.md.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one command. What a user can cause or fix (a node down, output piped into `head`,
    Ctrl-C) ends with a sentence and an exit status, never a traceback; anything else is our
    bug and keeps its traceback."""
    from node.cli.common import unreachable
    from node.tools.client import NodeUnreachable

    parser = build_parser()
    args = None
    try:
        try:
            args = parser.parse_args(argv)
            args.func(args)
        finally:
            sys.stdout.flush()  # here, not at exit, where a closed pipe is past our reach
    except NodeUnreachable as error:
        raise SystemExit(unreachable(args, error)) from None
    except BrokenPipeError:
        # the reader went away (`| head`): nobody reads the rest, and the interpreter must not
        # fail again flushing it at exit. 128 + SIGPIPE, as a Unix filter would end.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(128 + signal.SIGPIPE) from None
    except KeyboardInterrupt:
        raise SystemExit(128 + signal.SIGINT) from None
