"""What `stoledger demo` and `cluster up/down` do to the folder they are given (red team of issue
28, F3 and F10): the demo deletes only a network the tools made, says that it replaces it, and
refuses anything else untouched; two commands never work on one folder at once; a node that
dies at start-up is named with its log's last line, and `up` fails."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genesis.builder import init_network
from node.cli import main
from node.tools import cluster


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_the_demo_refuses_a_folder_that_is_not_a_network_and_leaves_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "important.txt").write_text("my notes")
    (victim / "sub" / "thesis.tex").write_text("x")
    before = files_of(victim)
    with pytest.raises(SystemExit) as refused:
        main(["demo", "--dir", str(victim)])
    assert "is not a stoledger network" in str(refused.value.code)
    assert "choose a new folder with --dir" in str(refused.value.code)
    assert files_of(victim) == before


def test_the_demo_refuses_a_network_holding_files_it_did_not_write(tmp_path: Path) -> None:
    net = tmp_path / "demo-net"
    init_network(net, n=1)
    (net / "keys" / "yoon.json").write_text(json.dumps({"account": "ab" * 32}))
    (net / "proof.json").write_text("{}")
    before = files_of(net)
    with pytest.raises(SystemExit) as refused:
        main(["demo", "--dir", str(net)])
    said = str(refused.value.code)
    assert "files the tools did not write (keys/yoon.json, proof.json)" in said, said
    assert files_of(net) == before


def test_a_network_the_tools_made_is_replaced_and_the_user_is_told(tmp_path: Path) -> None:
    net = tmp_path / "demo-net"
    init_network(net, n=1)
    heard: list[str] = []
    cluster.replace(net, progress=heard.append)
    assert not net.exists()
    assert heard == [f"replacing the network in {net}/ (its chain, keys and logs are deleted)"]
    cluster.replace(net, progress=heard.append)  # nothing there: nothing to say
    assert len(heard) == 1


def test_demo_help_says_the_folder_is_replaced(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "DIR is replaced" in said and "is refused and left as it is" in said


def test_a_second_command_on_a_busy_folder_is_refused(tmp_path: Path) -> None:
    net = tmp_path / "net"
    init_network(net, n=1)
    before = files_of(net)
    with cluster.exclusive(net):  # a `cluster up` still waiting for readiness
        for argv in (["cluster", "up", "--dir", str(net)], ["cluster", "down", "--dir", str(net)]):
            with pytest.raises(SystemExit) as refused:
                main(argv)
            assert "another stoledger command (cluster up, cluster down or demo) is working " \
                   f"on {net}" in str(refused.value.code)
    assert files_of(net) == before  # nothing started, cluster.json untouched


class NotANode(BaseHTTPRequestHandler):
    """Another program on the node's RPC port (`python3 -m http.server`): HTML 404s."""

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_a_node_that_dies_at_start_up_fails_up_with_its_last_log_line(tmp_path: Path) -> None:
    net = tmp_path / "net"
    init_network(net, n=1)
    entry = cluster.read_cluster(net)["nodes"][0]
    port = int(entry["rpc"].rsplit(":", 1)[1])
    squatter = ThreadingHTTPServer(("127.0.0.1", port), NotANode)
    try:
        with pytest.raises(SystemExit) as failed:
            cluster.up(net, progress=lambda line: None)
    finally:
        squatter.server_close()
        cluster.down(net, progress=lambda line: None)
    said = str(failed.value.code)
    assert said.startswith(f"node {entry['name']} exited at start-up: "), said
    assert "address already in use" in said.splitlines()[0].lower(), said
    assert "Traceback" not in said


def test_cluster_up_with_another_shape_than_the_folder_holds_is_refused(tmp_path: Path) -> None:
    """`cluster up -n 7 --observer` on a folder holding a 1-operator network started what
    was there and said nothing (walkthrough red team, smaller findings)."""
    net = tmp_path / "net"
    init_network(net, n=1)
    before = files_of(net)
    with pytest.raises(SystemExit) as refused:
        main(["cluster", "up", "--dir", str(net), "-n", "7", "--observer"])
    assert f"{net} already holds a network (1 operator);" in str(refused.value.code)
    assert files_of(net) == before
