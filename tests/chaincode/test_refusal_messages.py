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
    the second argument of each ChaincodeError(...) and of each (code, message) verdict."""
    found = []
    for path in sorted(CHAINCODE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            parts: list[ast.expr] = []
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ChaincodeError":
                parts = node.args[1:2]
            elif (isinstance(node, ast.Tuple) and len(node.elts) == 2
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
