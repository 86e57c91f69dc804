"""Everything of stoledger that does I/O: the node process and the tools around it.

One room per subsystem, lowest first. A room imports only rooms below its own (or modules of
its own room without a cycle); tests/test_layout.py walks every import and enforces it, and
each room's __init__ says what it owns and what it may import.

  base       clock, metrics, collector (the garbage collector's tuning), storage/ (the
             key-value interface and every key layout)
  admission  a client transaction decoded and checked, and the pool of admitted ones
  ledger     committed blocks applied: executor, committed index, audit indexes, proofs,
             replay check (fsck) and recovery from a diverged state
  net        peers: mutual-TLS links, frames, gossip, state transfer, height sync
  surveillance  alerts S1-S14 derived from committed blocks (an executor indexer)
  rpc        the HTTP API (it sees the node only through rpc.api.NodeApi), the event hub and
             the access log; console/ the regulator's web console served beside it
  app        Node: the one place that wires store, executor, mempool, replica, links and RPC;
             its port (disk, links, state transfer) is what ledger.ready carries the
             replica's actions out through
  tools      tools/ (client, local cluster, demo: they drive a node over HTTP), sim/ (the
             simulator: the ledger and admission rooms under a virtual clock and network, never
             sockets, HTTP or app), bench/, fds/ (the automatic responder), cli/ (the top:
             nothing imports it)

Where do peers talk? node/net. Where is a block applied? node/ledger/executor.py. Where does a
transaction get in? node/admission. How is it all started? node/app.py.

`consensus` and `chaincode` import nothing of `node`; `genesis` imports nothing of `node`.
"""
