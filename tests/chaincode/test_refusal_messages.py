"""A refusal's message is read by people (receipts, `tx submit`, the console): a sentence that
names the numbers, not a formula such as `available 0 (balance 0 - escrowed) < 5`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.chaincode.helpers import Chain

CHAINCODE = Path(__file__).resolve().parents[2] / "chaincode"
FORMULA = re.compile(r"[<>] *$|^ *[<>]|\) *[<>] |\} *[<>] *\{")  # `x < {y}` in a message


def test_cash_short_of_funds_says_so_in_a_sentence() -> None:
    chain = Chain()
    outcome = chain.execute("bank", "cash", "transfer", {"to": chain["issuer-1"], "amount": 5})
    assert outcome.error == {
        "code": "INSUFFICIENT_BALANCE",
        "message": "only 0 KRW is available, less than the 5 KRW asked (balance 0 KRW, "
                   "0 KRW of it escrowed)"}


def messages() -> list[tuple[str, int, str]]:
    """(file, line, text) of every literal part of a refusal's message in the chaincode:
    the second argument of each ChaincodeError(...) and of each (code, message) verdict
    (a tuple or a list)."""
    found = []
    for path in sorted(CHAINCODE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            parts: list[ast.expr] = []
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ChaincodeError":
                parts = node.args[1:2]
            elif (isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2
                  and isinstance(node.elts[0], ast.Constant)
                  and re.fullmatch(r"[A-Z][A-Z0-9_]+", str(node.elts[0].value))):
                parts = node.elts[1:]
            for part in parts:
                for piece in ast.walk(part):
                    if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                        found.append((path.name, piece.lineno, piece.value))
                if isinstance(part, ast.JoinedStr):
                    found.append((path.name, part.lineno, ast.unparse(part)))
    return found


def test_no_refusal_message_is_a_formula() -> None:
    found = messages()
    assert len(found) > 100  # the scan sees the messages
    formulas = [f"{name}:{line}: {text}" for name, line, text in found if FORMULA.search(text)]
    assert not formulas, "write these as sentences:\n" + "\n".join(formulas)


RAW_MS = re.compile(r"\}\)? ms\b|\{[^}]*_(?:time|ms)[^}]*\}(?! *\()|\(\{ctx\.time\}")
# `{x} ms`, a bare `{..._time}` / `{..._ms}` or `({ctx.time})`: a time or duration in raw
# milliseconds (walkthrough red team F6); time_text / duration_text write them for people


def test_no_refusal_message_writes_milliseconds_for_a_time_or_a_duration() -> None:
    def is_raw(text: str) -> bool:
        return any("time_text(" not in found and "duration_text(" not in found
                   for found in (match.group(0) for match in RAW_MS.finditer(text)))

    raw = [f"{name}:{line}: {text}" for name, line, text in messages() if is_raw(text)]
    assert not raw, "write times with time_text and durations with duration_text:\n" + \
        "\n".join(raw)


def test_times_and_durations_read_as_the_cli_writes_them() -> None:
    """chaincode.runtime's integer-only formatting agrees with node.clock's (datetime)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chaincode.runtime import duration_text, time_text
    from node.clock import duration_text as cli_duration
    from node.clock import kst_text

    @settings(max_examples=500, deadline=None)
    @given(st.integers(min_value=-(10**13), max_value=10**14))
    def agree(ms: int) -> None:
        assert time_text(ms) == kst_text(ms)
        assert duration_text(ms) == cli_duration(ms)

    agree()
    assert time_text(1_796_653_907_967) == "2026-12-07 23:31:47 KST"
    assert duration_text(259_200_000) == "3 d"
