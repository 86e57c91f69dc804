#!/usr/bin/env python3
"""Kill the primary of a running local cluster under full load: does it keep committing, and does
any node drop a frame for size? (issue #11's check; `bench --rate 0` cannot do it, because its
load process and block watcher follow the first node, which is the primary.)

    stoledger cluster up --dir net && python scripts/primary_kill.py --dir net

Three threads post batches of cash mints (signed by the bank) to the backups as fast as they
are taken (the excess is refused 503); after --kill-after seconds the primary gets SIGKILL.
Prints heights and views over time and each surviving node's p2p size-drop counters; exit 1 if
the height did not move after the kill or a frame was dropped for size.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genesis.builder import load_keyfile
from node.tools import cluster as clustermod
from node.tools.client import Client

SIZE_DROPS = ('stat="dropped_too_big"', 'stat="dropped_oversize_in"')


def status(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "/v1/status", timeout=3) as answer:
            return json.load(answer)
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default="net",
                        help="a running cluster's folder (default %(default)s)")
    parser.add_argument("--duration", type=float, default=50.0,
                        help="seconds of load (default %(default)s)")
    parser.add_argument("--kill-after", type=float, default=12.0,
                        help="seconds of load before the primary is killed (default "
                             "%(default)s)")
    args = parser.parse_args()
    info = clustermod.read_cluster(args.dir)
    nodes = {n["name"]: n for n in info["nodes"] if n["role"] == "operator"}
    primary = status(next(iter(nodes.values()))["rpc"])["primary"]
    backups = [name for name in nodes if name != primary]
    bank = load_keyfile(str(Path(args.dir, "keys", "bank.json")))
    stop = threading.Event()
    counts = {"admitted": 0, "refused": 0}

    def load(name: str) -> None:
        client = Client(nodes[name]["rpc"], info["chain_id"], bank)
        while not stop.is_set():
            txs = [client.build("cash", "mint", {"to": bank.account, "amount": 1})
                   for _ in range(300)]
            body = json.dumps([{"body": t.body_bytes.hex(), "sig": t.sig.hex()}
                               for t in txs]).encode()
            try:
                _, answer = client.request("POST", "/v1/txs", body)
            except OSError:
                time.sleep(0.2)
                continue
            if isinstance(answer, list):
                counts["admitted"] += sum("tx_id" in item for item in answer)
                counts["refused"] += sum("error" in item for item in answer)

    threads = [threading.Thread(target=load, args=(name,)) for name in backups]
    for thread in threads:
        thread.start()
    start, killed_at_height = time.monotonic(), None
    watch = nodes[backups[0]]["rpc"]
    while time.monotonic() - start < args.duration:
        elapsed = time.monotonic() - start
        now = status(watch)
        if killed_at_height is None and elapsed >= args.kill_after and now is not None:
            os.kill(int(nodes[primary]["pid"]), signal.SIGKILL)
            killed_at_height = now["height"]
            print(f"t={elapsed:5.1f}s  SIGKILL the primary {primary} at height "
                  f"{killed_at_height}", flush=True)
        if now is not None:
            print(f"t={elapsed:5.1f}s  height {now['height']}  view {now['view']}  "
                  f"admitted {counts['admitted']}  refused {counts['refused']}", flush=True)
        time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join()
    final = status(watch)
    dropped = 0
    for name in backups:
        with urllib.request.urlopen(nodes[name]["rpc"] + "/metrics", timeout=5) as answer:
            lines = [line for line in answer.read().decode().splitlines()
                     if any(key in line for key in SIZE_DROPS)]
        dropped += sum(int(float(line.rsplit(" ", 1)[1])) for line in lines)
        print(name, "; ".join(lines))
    moved = final is not None and killed_at_height is not None and \
        final["height"] > killed_at_height
    print(f"committing after the kill: {'yes' if moved else 'NO'}; frames dropped for size: "
          f"{dropped}")
    return 0 if moved and dropped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
