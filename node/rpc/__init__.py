"""The HTTP API of PROTOCOL.md on aiohttp: `server` (transactions, queries, blocks, status,
events, metrics, health), `audit` (the regulator's routes), `common` (errors, encodings, the
signed caller), `auth` (signed requests), `openapi` (the document), `api` (NodeApi: all the RPC
layer may use of a node). It imports the ledger room below it, never the process (`node.app`),
p2p or the tools."""
