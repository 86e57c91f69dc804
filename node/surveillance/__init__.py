"""Market surveillance (PROTOCOL.md, "Surveillance"; DESIGN.md, "Surveillance and the
regulator's console"): the rules S1-S10 over committed orders, trades and cash flows, and the
alerts the regulator reads at `/v1/audit/alerts` and on `/v1/events`.

How it works. `indexer.Surveillance` is an executor indexer, like node.ledger.audit's: each applied
block's receipts become records in bounded windows (`windows`), the rules (`rules`, pure
functions, thresholds from genesis.surveillance) run on what the block triggered, and the new
alerts go into the block's own batch under `v/` (node.storage.schema). It is not consensus
state: nothing on chain reads it, yet every node derives the same alerts from the same chain.
`alerts` reads them back (filters, paging, as of a height) for the RPC route and the CLI.
`generator` is a seeded market (honest traders and planted manipulations with their ground
truth) driven through the real market contract in an in-memory executor; it measures each
rule's recall and the alerts it raises on honest accounts (`stoledger market-sim`).

Room: ledger. It may import chaincode, consensus, genesis and the base and ledger rooms of
node (executor, storage, tx); never p2p, rpc, app or the tools (sim, bench, demo, cli).
"""
