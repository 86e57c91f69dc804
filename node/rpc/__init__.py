"""The HTTP API of PROTOCOL.md on aiohttp: `server` (transactions, queries, blocks, status,
events, metrics, health), `audit` and `audit_market` (the regulator's routes), `alerts`,
`common` (errors, encodings, the signed caller), `auth` (signed requests), `connections`
(connection caps), `openapi` (the document), `events` (the SSE hub: who sees what, who may
subscribe, resuming without a gap), `receipts` (what a receipt shows each caller, by the
events' rules), `access` (the access log), `api` (NodeApi: all the RPC layer may use of a
node). It imports the ledger, admission and surveillance rooms below it, never the process
(`node.app`), the network (node.net) or the tools."""
