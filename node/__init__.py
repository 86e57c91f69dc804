"""Everything of stoledger that does I/O: the node process and the tools around it.

The rooms, lowest first. A module imports only rooms below its own (or modules of its own room
without a cycle); tests/test_layout.py walks every import and enforces it.

  base      tx (decode and check a client transaction), gossip (tx frames), clock, metrics,
            storage/ (the key-value interface and every key layout), sync (height sync rule),
            client (an HTTP client), cluster (local node processes), rpc/auth (signed requests)
  ledger    executor (blocks -> state, receipts, indexes), committed (whether a tx id is
            committed, from memory where it surely is not), mempool, audit (audit indexes),
            surveillance/ (alerts S1-S10 from committed blocks), transfer and fetch (state
            transfer, both sides), proof, fsck (replay check), recover (halt and rebuild on a
            diverged state), events (the SSE hub), access (the access log)
  network   p2p (mutual-TLS websockets between operators), p2p_slots (who may hold a TLS
            handshake slot)
  api       rpc/ (HTTP routes; it sees the node only through rpc.api.NodeApi), console/ (the
            regulator's console: static files served at /console/, and its one JSON route)
  process   app (Node: wires store, executor, mempool, replica, p2p and RPC)
  tools     sim/ (the simulator: the ledger room driven by a virtual clock and network, never
            p2p, rpc or app), bench/ and demo (drive a cluster over HTTP), cli/ (the top:
            nothing imports it)

`consensus` and `chaincode` import nothing of `node`; `genesis` imports nothing of `node`.
"""
