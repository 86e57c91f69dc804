"""Where a block is applied: committed blocks in, state, receipts and indexes out.

  executor   blocks -> state through the chaincode, one synced batch per block, app hash
  committed  whether a tx id is committed, from memory where it surely is not
  audit      the audit indexes (by account, symbol, refusal code, dividend), in each block's batch
  proof      the offline check of a block proof against genesis (pure)
  fsck       replay a stopped node's store from genesis and compare everything
  recover    halt on a state that contradicts a stable checkpoint, and rebuild
  ready      carrying out a replica's actions (persist before send, execute commits): the
             one loop of node.app and the simulator, which differ only in their ports

May import: consensus, chaincode, genesis, node.admission (a block's transactions are decoded
and checked as at admission; a committed block's transactions leave the pool) and the base
(node.storage, node.clock). Never node.net (the ledger does not fetch; node.app and the
simulator feed it blocks, and `ready` reaches the network only through its port), rpc, app
or the tools.
"""
