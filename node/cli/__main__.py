"""`python -m node.cli`: the same as the `stoledger` entry point."""

from node.cli import main

main()
