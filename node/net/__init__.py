"""Where peers talk: everything that crosses a link between two nodes.

  p2p        the links: one mutual-TLS websocket per pair of genesis nodes, the signed
             handshake, bounded outbound queues, reconnect with backoff
  slots      who may hold a TLS handshake slot while it is in progress
  frames     the shape of a frame (`[kind, payload]`), read before anything is built from it
  gossip     client transactions a node admitted, batched into "t" frames
  transfer   state transfer's serving side and the certificate check of a fetched block
  fetch      state transfer's catching-up side (shared with the simulator)
  sync       height sync: when a node has fallen behind and how far to fetch

May import: consensus, chaincode, genesis, node.admission (a gossiped transaction is decoded
as an admitted one is) and the base (node.storage, node.clock, node.metrics). Never the
ledger (a link moves bytes; node.app hands blocks to the executor), rpc, app or the tools.
"""
