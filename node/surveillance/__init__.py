"""Market surveillance (PROTOCOL.md, "Surveillance"; DESIGN.md, "Surveillance and the
regulator's console"): the rules S1-S14 over committed orders, trades, cash movements and
material events, judged by owner, and the alerts the regulator reads at `/v1/audit/alerts`
and on `/v1/events`.

How it works. `indexer.Surveillance` is an executor indexer, like node.ledger.audit's: each
applied block's receipts are read (`reader`) into bounded windows (`orders`, `trades`,
`flows`), the owner graph (`owners`: accounts linked by shared client devices, transfers
outside the market and key recovery, transitively), the insider index and what waits for a
later block (`pending`); the rules (`rules`, pure functions, thresholds from
genesis.surveillance) run on what the block triggered (`facts`); their findings become alerts,
or new versions of open ones (`episodes`: nothing is suppressed), in the block's own batch under
`v/` (node.storage.schema, staged through `staged`). It is not consensus state: nothing on chain
reads it, yet every node derives the same alerts from the same chain, and every bound on its
memory (`records.Limits`) acts the same way on a live, a restarted and a replaying node.
`alerts` reads them back (filters, paging, versions) for the RPC route and the CLI.

The market generator measures it: `generator` (a seeded market of honest traders), `lookalikes`
(honest behaviour that looks like manipulation), `plants` and `evasions` (the simple form of
each rule and the variations that escaped the old rules, with their ground truth), `planting`
(their tools) and `runs` (set up, run, score), driven through the real contracts in an
in-memory executor (`world`); `stoledger market-sim` prints recall and false alerts per rule.

Room: ledger. It may import chaincode, consensus, genesis and the base and ledger rooms of
node (executor, storage, tx); never p2p, rpc, app or the tools (sim, bench, demo, cli).
"""
