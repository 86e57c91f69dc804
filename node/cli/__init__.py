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
    Ctrl-C, a file or folder that is missing or wrong, arguments that cannot be encoded: see
    `user_errors`) ends with a sentence and an exit status, never a traceback; anything else
    is our bug and keeps its traceback."""
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
    except user_errors() as error:
        raise SystemExit(f"stoledger: {said(error)}") from None


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that mean bad input or a bad environment, not a bug of ours: a config, key
    or genesis file that cannot be used, arguments with no canonical encoding (a float, an
    integer past 64 bits), and the operating system's refusals (a missing folder, a
    directory given for a file, a port taken, a store locked by its running node). Imported
    only when an error is on its way (an except clause's tuple is evaluated then)."""
    from consensus.codec import EncodingError
    from genesis.builder import ConfigError
    from genesis.schema import GenesisError

    return (ConfigError, GenesisError, EncodingError, OSError)


def said(error: Exception) -> str:
    """One line for a user error: an OSError names the file it is about."""
    from consensus.codec import EncodingError

    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    if isinstance(error, EncodingError):
        return f"the arguments cannot be encoded: {error}"
    return str(error)
