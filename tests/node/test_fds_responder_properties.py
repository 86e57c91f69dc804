"""A generator of hostile event streams for the responder (docs/redteam-fds.md, R1-R3): any
sequence of events a faulty node might send, well formed or not, fed to the responder's event
loop (`Responder._consume`, what `_follow` runs on a node's stream). Whatever comes, the loop
either goes on or gives the node up (NodeLost, Untrusted): it never raises anything else, its
position only ever moves one height at a time past what it had, and it holds only accounts
that a well-formed alert named."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus.crypto import Signer
from node.fds.evidence import ACCOUNT, Untrusted
from node.fds.journal import Journal
from node.fds.policy import parse_policy
from node.fds.responder import NodeLost, Responder
from tests.node.test_fds_responder import StandInClient

A, B = "aa" * 32, "bb" * 32
POLICY = parse_policy({"rules": [{"rule": "S1", "min_severity": "low", "scope": "all"}]})
START = 5

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**64) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
height = st.integers(min_value=START - 1, max_value=START + 3) | st.integers(0, 2**64)
near = st.sampled_from([START - 1, START, START + 1])  # where a live stream is
event_id = (st.builds(lambda h, i: f"{h}.{i}", near, st.integers(0, 3))
            | st.builds(lambda h, i: f"{h}.{i}", height, st.integers(0, 3)) | json_value)


@st.composite
def alert(draw: Any) -> Any:
    value = {"alert_id": draw(st.sampled_from(["c1" * 32, "c2" * 32]) | json_value),
             "rule": draw(st.just("S1") | json_value),
             "severity": draw(st.just("high") | json_value),
             "accounts": draw(st.lists(st.sampled_from([A, B]), min_size=1, max_size=2)
                              | json_value),
             "heights": draw(st.lists(height, min_size=1, max_size=2) | json_value)}
    if draw(st.booleans()):
        value = draw(st.dictionaries(st.sampled_from(sorted(value)), json_value, max_size=2)
                     .map(lambda broken: {**value, **broken}))
    return value


block = st.builds(lambda h, same: {"id": f"{h}.0" if same else f"{h + 1}.0", "event": "block",
                                   "data": {"height": h}}, height, st.booleans())
alert_item = st.builds(lambda i, a: {"id": i, "event": "alert", "data": a}, event_id, alert())
item = st.one_of(
    block,
    alert_item,
    alert_item,
    st.builds(lambda i, d: {"id": i, "event": "block", "data": d}, event_id, json_value),
    st.builds(lambda d: {"id": None, "event": "closed", "data": d}, json_value),
    st.builds(lambda n, i, d: {"id": i, "event": n, "data": d}, st.text(max_size=6),
              event_id, json_value),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(items=st.lists(item, max_size=12))
def test_a_hostile_stream_never_kills_or_misleads_the_responder(
        tmp_path_factory: Any, items: list[dict[str, Any]]) -> None:
    folder = Path(tmp_path_factory.mktemp("responder"))
    journal = Journal(folder)
    responder = Responder(folder, Signer.generate(), POLICY, journal, log=lambda line: None)
    responder.position = (START, f"{START}.0")
    client = StandInClient()
    heights = [START]
    named: set[str] = set()
    for event in items:
        if (event["event"] == "alert" and isinstance(event["data"], dict)
                and isinstance(event["data"].get("accounts"), list)):
            named.update(a for a in event["data"]["accounts"] if isinstance(a, str))

    def watched() -> Any:
        for event in items:
            yield event
            heights.append(responder.position[0])  # type: ignore[index]

    with contextlib.suppress(NodeLost, Untrusted):  # the node is given up: that is allowed
        responder._consume(client, watched())  # type: ignore[arg-type]
    heights.append(responder.position[0])  # type: ignore[index]
    for before, after in itertools.pairwise(heights):
        assert before <= after <= before + 1, heights
    for args in client.sent:
        assert ACCOUNT.fullmatch(args["account"]) and args["account"] in named, args
