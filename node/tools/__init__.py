"""The tools that drive a node from outside, over HTTP, as any client would.

  client     a small synchronous client of the node's API (signing, queries, receipts)
  cluster    a local cluster: real node processes on loopback, driven by DIR/cluster.json, or
             each in its own network namespace (--netns)
  netns      the namespaces, bridge and cables of a --netns cluster (`ip`, root)
  relay      the userspace relay every --netns peer link passes through: holds or slows links
  faults     the seeded fault schedule of a chaos run and the relay policies of partitions
  nemesis    carries faults out on a running cluster and watches the heights recover
  demo       the guided demo: a cluster, a token issued, transfers refused, a dividend, trading,
             an audit; demo_offering its acts of a public offering and a redemption
  offering_view  the text tables of an offering's allocation and a redemption (CLI and demo)

May import: consensus, chaincode, genesis, node.admission (to sign and encode a transaction)
and node.ledger.proof (to check a proof offline). Never the process itself (app, net, rpc
server), the simulator, bench or the CLI (which imports these).
"""
