"""The genesis document: what a network is, fixed before its first block.

A network is born from one JSON document, `genesis.json`, that every node holds and that
nobody can change afterwards without starting a new chain. It fixes:

- the chain id (signed into every transaction, vote and consensus message) and the genesis time;
- the consensus parameters (checkpoint interval, watermark window, batch limits, timeouts);
- the consortium CA certificate, and the voting operators (n = 3f+1, in primary order) and
  non-voting observers, each with its Ed25519 signing key, its TLS certificate and its address;
- the organisations and their admin accounts (registrar, regulator, brokers, bank, issuers,
  tax), from which every node computes the same initial state (`chaincode.genesis_state`);
- the sha256 of each chaincode module's source, so that a node running other code refuses to
  start (`check_chaincode`), and the chain parameters the contracts read.

Modules:
- `genesis.schema`: the frozen dataclasses (`Genesis`, `NodeInfo`, `ConsensusParams`, `Org`),
  `parse_genesis` / `load_genesis`, which check everything and raise `GenesisError` naming the
  field at fault, and `check_chaincode`.
- `genesis.builder`: `init_network` makes a ready-to-run network folder (genesis, the CA, one
  folder per node with its config, keys and certificate, one key file per organisation admin,
  `cluster.json`), `build_network` does the same in memory (for the simulator), and
  `load_config` / `load_keyfile` / `check_node` read a node's files back.
- `genesis.certs`: the consortium CA and the per-node TLS certificates.

What this package may not do: talk to the network, read the clock for anything that ends up in
the document (the default genesis time is a constant, so a build is reproducible apart from its
keys), or import the contracts at module load (the chaincode hashes are computed on demand).
The hash of a genesis is `sha256(canonical msgpack of the document)`, independent of how the
JSON was laid out.
"""
