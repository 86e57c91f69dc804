"""The automatic responder (FDS, 이상거래 탐지 후 자동 차단): a client process that turns
surveillance alerts into holds by policy (PROTOCOL.md, "fds").

  policy     the policy file: which rule, from which severity, holds which scope; and the
             default policy shipped here (default_policy.json), each choice with its source
  journal    what the responder did, kept in NET/fds/: its position in the alert stream, every
             decision it made, and whether it is running (a pid file)
  stream     a Server-Sent Events reader of a node's /v1/events (signed, standard library)
  responder  the loop: follow one node's alerts, catch up from the audit route on (re)connect,
             place holds once per alert, account and scope, move to another node when the one
             it follows goes away

It works from outside, over HTTP, with the registrar's key, as any client would: every hold is
a signed transaction, so the ledger shows who blocked what, when and on which alert.

May import: consensus, chaincode, genesis, node.admission, node.surveillance (rule names),
node.tools.client and node.tools.cluster. Never the process (app, net, the RPC server), the
simulator, bench, the demo or the CLI (which drives this).
"""
