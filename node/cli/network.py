"""`stoledger genesis|node|cluster`: build a network folder, run or check one node, and run a
local cluster of node processes."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from node.cli.common import dir_arg, print_json, progress, size_args, table

NET_FAULTS = ("show", "split", "oneway", "drop", "deaf", "slow", "unplug", "plug", "heal")
NET_OPERANDS = {"show": 0, "oneway": 2, "drop": 2, "deaf": 1, "slow": 2, "unplug": 1, "plug": 1,
                "heal": 0}


def register(sub: Any) -> None:
    genesis = sub.add_parser("genesis", help="build a network folder").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    init = genesis.add_parser(
        "init", help="write genesis, node configs, keys, TLS certificates, cluster.json",
        description="Write a ready-to-run network into DIR (which must be empty): genesis.json, "
                    "nodes/<name>/ (config, operator key, TLS key and certificate), keys/<org>"
                    ".json for each organisation admin, and cluster.json.")
    dir_arg(init)
    size_args(init)
    init.add_argument("--chain-id", default="stoledger-local", help="chain id (default "
                      "%(default)s)")
    init.set_defaults(func=cmd_genesis_init)

    node = sub.add_parser("node", help="run one node").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    run = node.add_parser("run", help="run a node in the foreground",
                          description="Run the node described by CONFIG until SIGINT/SIGTERM.")
    run.add_argument("--config", required=True, help="DIR/nodes/<name>/config.toml")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(func=cmd_node_run)
    check = node.add_parser(
        "check", help="check a stopped node's store by replaying it",
        description="Replay every block of the node's store from genesis in memory and compare "
                    "blocks, certificates, state, tx index, receipts and app hash with what is "
                    "on disk. Run it with the node stopped. Exit status 1 on any difference.")
    check.add_argument("--config", required=True, help="DIR/nodes/<name>/config.toml")
    check.set_defaults(func=cmd_node_check)

    cluster = sub.add_parser("cluster", help="a local multi-node cluster").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    up = cluster.add_parser(
        "up", help="initialise DIR if empty and start every node not running",
        description="Initialise DIR if it is empty, start every node of DIR that is not running "
                    "as a background process (pid in cluster.json, log in DIR/nodes/<name>/"
                    "node.log), and return once all are ready. Run it again after a node died "
                    "to restart just that node; it catches up by itself.")
    dir_arg(up)
    size_args(up)
    up.add_argument("--json", action="store_true", help="print the status as JSON")
    up.add_argument("--netns", action="store_true",
                    help="(root) each node in its own network namespace, peer links through a "
                         "relay that `cluster net` can cut (when DIR is initialised)")
    up.set_defaults(func=cmd_cluster_up)
    down = cluster.add_parser("down", help="stop every node of DIR")
    dir_arg(down)
    down.set_defaults(func=cmd_cluster_down)
    net = cluster.add_parser(
        "net", help="(--netns clusters) partition, one-way, slow or unplug links; heal",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Network faults on a cluster started with `cluster up --netns`. Each relay "
                    "fault replaces the relay's whole policy; `heal` clears it and plugs every "
                    "cable back in.\n\n"
                    "  show                     the relay's policy, connections, cables\n"
                    "  split A,B C,D            hold every link between the groups (a node in "
                    "none stays linked to all: a bridge)\n"
                    "  oneway FROM TO           hold FROM -> TO only (TO still reaches FROM)\n"
                    "  drop FROM TO             the kernel drops FROM's packets to TO (TCP "
                    "stalls)\n"
                    "  deaf NAME                hold everything into NAME (it still sends)\n"
                    "  slow NAME MS             delay NAME's links by MS each way\n"
                    "  unplug NAME | plug NAME  pull NAME's cable (RPC too) or plug it in\n"
                    "  heal                     everything back (relay, cables, routes)")
    dir_arg(net)
    net.add_argument("fault", choices=NET_FAULTS)
    net.add_argument("operands", nargs="*", help="node names, groups, milliseconds")
    net.set_defaults(func=cmd_cluster_net)
    status = cluster.add_parser("status", help="each node's pid, height, view and health")
    dir_arg(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_cluster_status)


def cmd_genesis_init(args: argparse.Namespace) -> None:
    from genesis.builder import init_network

    genesis = init_network(args.dir, n=args.n, observer=args.observer, chain_id=args.chain_id,
                           base_port=args.base_port)
    print(f"wrote {args.dir}: chain {genesis.chain_id}, {len(genesis.operators)} operators "
          f"(f={genesis.f}){', observer fss' if args.observer else ''}")


def cmd_node_run(args: argparse.Namespace) -> None:
    import asyncio

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_node(args.config))


async def run_node(config_path: str) -> None:
    """`stoledger node run`: serve until SIGINT/SIGTERM, or until the node's own code fails
    (`Node.failure`: then exit non-zero, after the same cleanup)."""
    import asyncio
    import os
    import signal

    from genesis.builder import load_config
    from node import collector
    from node.app import Node
    from node.rpc.connections import raise_descriptor_limit
    from node.rpc.server import start_rpc

    log = logging.getLogger("stoledger.node")
    raise_descriptor_limit()  # RPC connections are capped well under it (node.rpc.connections)
    os.umask(0o077)  # every file the node makes (LevelDB's later tables and logs) is private
    config = load_config(config_path)
    node = Node(config)
    await node.start()
    runner = await start_rpc(node, config.rpc_host, config.rpc_port)
    collector.tune()
    log.info("node %s serving RPC on %s:%d, p2p on %s:%d, height %d", node.name,
             config.rpc_host, config.rpc_port, config.p2p_host, config.p2p_port,
             node.executor.height)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ends = [asyncio.create_task(stop.wait()), asyncio.create_task(node.failed.wait())]
    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    for end in ends:
        end.cancel()
    log.info("node %s stopping", node.name)
    await runner.cleanup()
    await node.stop()
    if node.failure is not None:
        raise SystemExit(f"stoledger node {node.name}: stopped on an internal error "
                         f"({node.failure!r}); the traceback is in the log")


def cmd_node_check(args: argparse.Namespace) -> None:
    import os

    from genesis.builder import load_config
    from genesis.schema import load_genesis
    from node.ledger.fsck import check_store
    from node.storage import LevelDB

    config = load_config(args.config)
    store = LevelDB(os.path.join(config.data_dir, "ledger"))
    try:
        problems = check_store(store, load_genesis(config.genesis), progress("replayed"))
    finally:
        store.close()
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("store is consistent")


def cmd_cluster_up(args: argparse.Namespace) -> None:
    from node.tools import cluster, netns

    existing = Path(args.dir, "cluster.json")
    if existing.exists() and (args.n != 4 or args.observer or args.netns):
        roles = [node["role"] for node in cluster.read_cluster(args.dir)["nodes"]]
        has = (f"{roles.count('operator')} operator{'' if roles.count('operator') == 1 else 's'}"
               f"{' and an observer' if 'observer' in roles else ''}")
        asked = (args.n, args.observer) != (roles.count("operator"), "observer" in roles)
        if asked or (args.netns and cluster.topology_of(args.dir) is None):
            sys.exit(f"{args.dir} already holds a network ({has}); -n, --observer and "
                     f"--netns shape a new one only: start this one without them, or choose "
                     f"another --dir")

    try:
        cluster.up(args.dir, n=args.n, observer=args.observer, base_port=args.base_port,
                   netns=args.netns)
    except netns.NetnsError as error:
        sys.exit(f"cluster up --netns: {error}")
    cmd_cluster_status(args)


def cmd_cluster_down(args: argparse.Namespace) -> None:
    from node.tools import cluster

    cluster.down(args.dir)


def cmd_cluster_status(args: argparse.Namespace) -> None:
    from node.tools import cluster

    rows = cluster.status(args.dir)
    if args.json:
        print_json(rows)
    else:
        print(table(rows, ["name", "role", "pid", "alive", "ready", "height", "view", "primary",
                            "peers", "rpc"]))




def cmd_cluster_net(args: argparse.Namespace) -> None:
    from node.tools import cluster, faults, netns, relay

    topology = cluster.topology_of(args.dir)
    if topology is None:
        sys.exit(f"{args.dir} is not a namespaced cluster (start one with `cluster up --netns`)")
    names, operands = topology.nodes, args.operands
    if args.fault == "split":
        if len(operands) < 2:
            sys.exit("cluster net split: two groups or more, e.g. ksd,broker-a broker-b,bank")
    elif len(operands) != NET_OPERANDS[args.fault]:
        sys.exit(f"cluster net {args.fault}: {NET_OPERANDS[args.fault]} operand(s) expected, "
                 f"got {len(operands)} (see --help)")
    nodes = [name for operand in (operands[:1] if args.fault == "slow" else operands)
             for name in operand.split(",")]
    unknown = [name for name in nodes if name not in names]
    if unknown:
        sys.exit(f"not a node of this cluster: {', '.join(unknown)} ({', '.join(names)})")
    if len(set(nodes)) != len(nodes):
        sys.exit(f"cluster net {args.fault}: a node is named twice")
    request: dict[str, Any] | None = None
    if args.fault == "split":
        request = {"held": faults.split_held(tuple(tuple(g.split(",")) for g in operands))}
    elif args.fault == "oneway":
        request = {"held": faults.oneway_held(*operands)}
    elif args.fault == "deaf":
        request = {"held": faults.deaf_held(operands[0], names)}
    elif args.fault == "slow":
        if not operands[1].isdigit():
            sys.exit(f"cluster net slow: {operands[1]!r} is not a number of milliseconds")
        request = {"delay_ms": faults.slow_delays(operands[0], names, int(operands[1]))}
    elif args.fault in ("unplug", "plug"):
        netns.set_cable(topology, operands[0], args.fault == "plug")
    elif args.fault == "drop":
        netns.set_blackhole(topology, operands[0], operands[1], True)
    elif args.fault == "heal":
        request = {}
        netns.clear_blackholes(topology)
        for name in names:
            netns.set_cable(topology, name, True)
    control = cluster.relay_control_path(args.dir)
    try:
        if request is not None:
            relay.control(control, {"op": "set", "held": [], "delay_ms": [], **request})
        shown = relay.control(control, {"op": "show"})
    except relay.RelayError as error:
        sys.exit(f"cluster net {args.fault}: {error}")
    print_json({"held": shown["held"], "delay_ms": shown["delay_ms"],
                "unplugged": [name for name in names
                              if not netns.cable_connected(topology, name)],
                "open": shown["open"], "stats": shown["stats"]})
