"""docs/reference.md is the project's own reference: its generated blocks are what the code
gives now (routes from the OpenAPI document, contracts from their registry), and its table of
error codes explains every code the chaincode can raise, found by reading the sources, not
from a list kept by hand. The README links only what a clone of the repository holds."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import pytest

from chaincode.runtime import Registry
from node.tools.reference import contracts_markdown, generated_blocks, update

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
WORDS = 3  # a code is at least this long (OK, the success of can_transfer, is no refusal)


def raised_codes(source: str) -> dict[str, list[int]]:
    """Every code-like string literal of a module (code -> lines), but the names of its
    `__all__`: a contract raises a code as a string, whatever the call that carries it
    (ChaincodeError, a (code, message) verdict, an order's cancel code, a helper's
    argument), so every such literal counts."""
    tree = ast.parse(source)
    exported = {id(element) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                for element in ast.walk(node.value)}
    found: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in exported and len(node.value) >= WORDS
                and CODE.fullmatch(node.value)):
            found.setdefault(node.value, []).append(node.lineno)
    return found


def chaincode_codes() -> dict[str, list[str]]:
    codes: dict[str, list[str]] = {}
    for path in sorted((ROOT / "chaincode").rglob("*.py")):
        for code, lines in raised_codes(path.read_text(encoding="utf-8")).items():
            where = str(path.relative_to(ROOT))
            codes.setdefault(code, []).extend(f"{where}:{line}" for line in lines)
    return codes


def explained_codes() -> set[str]:
    """The codes of the reference's table of error codes (its rows, not the prose)."""
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \| \S", section, re.MULTILINE))


def test_the_generated_blocks_are_what_the_code_gives() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert update(text, generated_blocks()) == text, (
        "docs/reference.md is out of date with the code: run `python scripts/reference.py` "
        "(or `make reference`) and commit the result")


def test_every_code_the_chaincode_can_raise_is_explained() -> None:
    codes = chaincode_codes()
    assert {"INSUFFICIENT_BALANCE", "SELF_TRADE", "FORBIDDEN", "INTERNAL"} <= set(codes)
    missing = {code: where for code, where in codes.items() if code not in explained_codes()}
    assert not missing, (
        "the chaincode can raise codes docs/reference.md does not explain; add a row for each "
        "to its table of error codes (## Error codes):\n"
        + "\n".join(f"  {code}: {', '.join(where[:3])}" for code, where in sorted(missing.items())))


def test_the_scan_finds_a_code_however_it_is_raised() -> None:
    planted = textwrap.dedent('''
        __all__ = ["PUBLIC_NAME"]
        def check(ctx, amount):
            if amount > 5:
                raise ChaincodeError("PLANTED_LIMIT", "too much")
            return ("PLANTED_VERDICT", "no") if amount < 0 else None
        def cancel(order):
            close(order, code="PLANTED_CANCEL")
        OK = "OK"
    ''')
    assert set(raised_codes(planted)) == {"PLANTED_LIMIT", "PLANTED_VERDICT", "PLANTED_CANCEL"}


def test_the_table_rows_are_what_the_test_reads() -> None:
    """A code that is only mentioned in prose, or a row without a meaning, does not count."""
    explained = explained_codes()
    assert "BAD_ARGS" in explained and "UNKNOWN_TOKEN" in explained
    assert "ALREADY_REGISTERED" in explained
    assert "not_found" not in explained  # HTTP codes are another table


PLANTED_CONTRACT = '''
"""The planted contract: what another engineer adds tomorrow.

Nothing else."""
from typing import Any

from chaincode.runtime import ChaincodeError, Context, Contract, query, require_int, transaction


def _check_window(ctx: Context, days: int) -> None:
    if days > 30:
        raise ChaincodeError("WINDOW_TOO_LONG", f"a window of {days} days is too long")


class Planted(Contract):
    name = "planted"

    @transaction
    def hold(self, ctx: Context, account: Any, days: Any, reason: Any = None) -> None:
        days = require_int("days", days, 1, 90)
        _check_window(ctx, days)
        if ctx.state.get(account) is not None:
            raise ChaincodeError("ALREADY_PLANTED", f"{account} is held")

    @query
    def holds(self, ctx: Context, account: Any) -> list[Any]:
        return []
'''


def test_the_generator_reads_whatever_the_registry_holds(tmp_path: Path) -> None:
    path = tmp_path / "planted.py"
    path.write_text(PLANTED_CONTRACT)
    spec = importlib.util.spec_from_file_location("chaincode._planted", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        text = contracts_markdown(Registry([module.Planted()]))
    finally:
        del sys.modules[spec.name]
    assert "### planted" in text and "The planted contract: what another engineer" in text
    assert "**hold(account, days, reason?)** — transaction, checks in order:" in text
    hold = text.split("**hold(")[1].split("**holds(")[0]
    assert [line.split("`")[1] for line in hold.splitlines()[1:] if "`" in line] == [
        "BAD_ARGS", "WINDOW_TOO_LONG", "ALREADY_PLANTED"]  # the helper's check where it stands
    assert "days must be an integer in 1..90" in hold
    assert "a window of … days is too long" in hold
    assert "**holds(account)** — query" in text


@pytest.mark.parametrize("document", ["README.md", "docs/reference.md"])
def test_links_point_inside_the_repository(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    outside = [link for link in links if not link.startswith(("http://", "https://"))
               and not (ROOT / document).parent.joinpath(link).resolve().is_relative_to(ROOT)]
    assert not outside, f"{document} links outside the repository: {outside}"
    missing = [link for link in links if not link.startswith(("http://", "https://"))
               and not (ROOT / document).parent.joinpath(link).exists()]
    assert not missing, f"{document} links files that do not exist: {missing}"
