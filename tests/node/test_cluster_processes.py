"""node.tools.cluster's process bookkeeping: a helper process just started is alive even
before it has exec'd its own command line (the relay of `cluster up --netns` was once taken
for dead in that instant, and `up` tore the namespaces down under it)."""

from __future__ import annotations

import sys
from pathlib import Path

from node.tools import cluster


def test_a_child_just_started_is_alive_before_its_command_line_names_it(tmp_path: Path) -> None:
    marker = tmp_path / "relay.json"
    pid = cluster._spawn([sys.executable, "-c", "import time; time.sleep(60)"],
                         tmp_path / "child.log", tmp_path)
    try:
        # What /proc says is not enough: this command line never names the marker, as a child
        # between fork and exec still shows its parent's.
        assert not cluster.runs_with(pid, marker)
        assert cluster._alive(pid, marker)
    finally:
        cluster._stop(pid, lambda pid: cluster._alive(pid, marker))
    assert not cluster._alive(pid, marker)
