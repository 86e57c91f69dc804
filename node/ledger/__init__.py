"""Where a block is applied: committed blocks in, state, receipts and indexes out.

  executor   blocks -> state through the chaincode, one synced batch per block, app hash
  committed  whether a tx id is committed, from memory where it surely is not
  audit      the audit indexes (by account, symbol, refusal code, dividend), in each block's batch
  proof      the offline check of a block proof against genesis (pure)
  fsck       replay a stopped node's store from genesis and compare everything
  recover    halt on a state that contradicts a stable checkpoint, and rebuild

May import: consensus, chaincode, genesis, node.admission (a block's transactions are decoded
and checked as at admission) and the base (node.storage, node.clock). Never node.net (the
ledger does not fetch; node.app and the simulator feed it blocks), rpc, app or the tools.
"""
