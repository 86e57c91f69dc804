"""The OpenAPI document's `rule` parameter of /v1/audit/alerts admits every surveillance rule
the route answers for (S1-S14) and nothing else: a client generated from the document must be
able to ask for S11-S14 (the pattern stopped at S10 before)."""

from __future__ import annotations

from node.rpc.openapi import document
from node.surveillance.rules import NAMES


def test_the_rule_parameter_admits_exactly_the_rules():
    operation = document()["paths"]["/v1/audit/alerts"]["get"]
    (schema,) = [p["schema"] for p in operation["parameters"] if p["name"] == "rule"]
    assert (schema["type"], schema["enum"]) == ("string", list(NAMES))
    assert {"S11", "S12", "S13", "S14"} <= set(schema["enum"]) and "S15" not in schema["enum"]
    assert "S1-S14" in operation["summary"]
