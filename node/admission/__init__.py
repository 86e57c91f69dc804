"""Where a client transaction gets in: decoding, the checks of admission, and the pool.

  tx         decode and check a client transaction (envelope, canonical body, chain, expiry,
             signature), its id and its weight in memory
  verified   the transactions whose signature was already checked (shared with the executor)
  mempool    the pool of admitted, uncommitted transactions and who may add to it (bounds,
             per-sender shares, the reserve)

May import: consensus, chaincode and the base (node.storage, node.clock). Never node.net (a
gossiped transaction reaches the pool through node.app), the ledger (it reads committed
identities through a function it is given), rpc, app or the tools.
"""
