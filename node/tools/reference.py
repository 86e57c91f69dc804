"""The generated parts of docs/reference.md: the HTTP routes and the contracts' methods.

docs/reference.md is written by hand, with blocks between `<!-- BEGIN GENERATED name -->`
and `<!-- END GENERATED name -->` that `update` rewrites from the code (`python
scripts/reference.py`; tests/test_reference.py fails while the file differs from what the
code gives, and while a code the chaincode can raise has no line in its table of codes):

- `routes`: every route of the OpenAPI document (node.rpc.openapi), with who may call it
  (signed or not), its query parameters (required ones marked) and the statuses it answers.
- `contracts`: every contract the registry holds (chaincode.builtin_registry), in registry
  order, each with the first line of its module's docstring and every transaction and query
  with its parameters (optional ones marked `?`) and its checks in the order the code makes
  them: each refusal (`ChaincodeError(code, message)`, a `(code, message)` verdict, a
  `Forbidden`) with its message.

How the checks are found. The method's source is read (ast) in source order; a call to a
function or method of the chaincode package (a helper of the same class, a function of a
chaincode module, another contract through `ctx.call("contract", "method", ...)`) is read in
turn where it stands, so a helper's checks appear at the point the method calls it (the
argument checks, `BAD_ARGS`, of another contract's method are left out: a contract checks
what it passes another). A message
is shown with the literal arguments of the call that reached it filled in (`order_id must be
an integer in 1..`) and `…` for what only the transaction knows. Source order is the order of
the checks for the straight-line argument checks that open every method; where a method
branches (a buy or a sell), both branches' checks are listed, each once. Nothing here runs a
contract: it reads the code only, and may not be taken for the contract's exact behaviour,
which the contract's own docstring states.
"""

from __future__ import annotations

import ast
import collections
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

MAX_DEPTH = 8  # calls followed from a method: the deepest chain in the built-ins is 6
MAX_CHECKS = 80  # checks listed per method (market.place has about 50)
BEGIN = "<!-- BEGIN GENERATED {name}: python scripts/reference.py rewrites this block -->"
END = "<!-- END GENERATED {name} -->"
UNKNOWN = "…"
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


# ---- routes ----------------------------------------------------------------------------------

def routes_markdown(document: dict[str, Any]) -> str:
    """One table row per route of an OpenAPI document, in the document's order."""
    lines = ["| route | signed | query parameters (* required) | answers | what |",
             "|---|---|---|---|---|"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = [p["name"] + ("*" if p.get("required") else "")
                      for p in operation.get("parameters", []) if p["in"] == "query"]
            statuses = ", ".join(operation["responses"])
            signed = "yes" if operation.get("security") else "no"
            summary = operation["summary"].replace("|", "\\|")
            lines.append(f"| `{method.upper()} {path}` | {signed} | "
                         f"{', '.join(params) or '-'} | {statuses} | {summary} |")
    return "\n".join(lines)


# ---- contracts -------------------------------------------------------------------------------

@dataclass
class Check:
    code: str
    message: str


@dataclass
class Reader:
    """Reads one method and what it calls, collecting its checks in source order."""

    registry: Any
    checks: list[Check] = field(default_factory=list)
    path: list[Callable[..., Any]] = field(default_factory=list)
    foreign: int = 0  # inside another contract's method, reached through ctx.call

    def read(self, fn: Callable[..., Any], env: Mapping[str, Any]) -> None:
        fn = inspect.unwrap(fn)
        if fn in self.path or len(self.path) >= MAX_DEPTH or not _ours(fn):
            return
        tree = _function_tree(fn)
        if tree is None:
            return
        self.path.append(fn)
        scope = collections.ChainMap(env, _constants(fn.__module__))
        try:
            for statement in tree.body:
                self._visit(statement, fn, scope)
        finally:
            self.path.pop()

    def _visit(self, node: ast.AST, fn: Callable[..., Any], env: Mapping[str, Any]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return  # a nested function runs only if called; its calls are not ours to follow
        if isinstance(node, ast.Call) and self._refusal(node, env):
            return
        if isinstance(node, (ast.Tuple, ast.List)) and self._verdict(node, env):
            return
        for child in ast.iter_child_nodes(node):
            self._visit(child, fn, env)
        if isinstance(node, ast.Call):
            self._follow(node, fn, env)

    def _add(self, code: str, message: ast.expr | None, env: Mapping[str, Any]) -> None:
        if code == "BAD_ARGS" and self.foreign:
            return  # a contract checks what it passes another: the caller never sees these
        check = Check(code, _text(message, env) if message is not None else "")
        if check not in self.checks:
            self.checks.append(check)

    def _refusal(self, call: ast.Call, env: Mapping[str, Any]) -> bool:
        name = _callee_name(call)
        if name == "ChaincodeError" and call.args and _literal(call.args[0], env) is not None:
            code = _literal(call.args[0], env)
            if isinstance(code, str):
                self._add(code, call.args[1] if len(call.args) > 1 else None, env)
                return True
        if name == "Forbidden":
            self._add("FORBIDDEN", call.args[0] if call.args else None, env)
            return True
        return False

    def _verdict(self, node: ast.Tuple | ast.List, env: Mapping[str, Any]) -> bool:
        if len(node.elts) != 2:
            return False
        code = _literal(node.elts[0], env)
        if not (isinstance(code, str) and _is_code(code)):
            return False
        self._add(code, node.elts[1], env)
        return True

    def _follow(self, call: ast.Call, fn: Callable[..., Any], env: Mapping[str, Any]) -> None:
        target = self._target(call, fn, env)
        if target is None:
            return
        callee, args, bound_self = target
        crossing = bound_self and _owner_class(callee) not in (None, _owner_class(fn))
        self.foreign += crossing
        try:
            self.read(callee, _bind(callee, args, call.keywords, env, bound_self))
        finally:
            self.foreign -= crossing

    def _target(self, call: ast.Call, fn: Callable[..., Any], env: Mapping[str, Any]
                ) -> tuple[Callable[..., Any], list[ast.expr], bool] | None:
        func = call.func
        if (isinstance(func, ast.Attribute) and func.attr in ("call", "call_at")
                and isinstance(func.value, ast.Name) and func.value.id == "ctx"):
            names = [_literal(a, env) for a in call.args[:3]]
            offset = 1 if func.attr == "call_at" else 0
            contract, method = [*names, None, None, None][offset:offset + 2]
            found = self._contract_method(contract, method)
            return None if found is None else (found, [], True)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner == "self":
                cls = _owner_class(fn)
                method = getattr(cls, func.attr, None) if cls is not None else None
                return None if method is None else (method, call.args, True)
            module = _globals(fn).get(owner)
            if isinstance(module, ModuleType):
                target = getattr(module, func.attr, None)
                return (target, call.args, False) if callable(target) else None
            return None
        if isinstance(func, ast.Name):
            target = _globals(fn).get(func.id)
            if inspect.isfunction(target):
                return target, call.args, False
        return None

    def _contract_method(self, contract: Any, method: Any) -> Callable[..., Any] | None:
        if not isinstance(contract, str) or not isinstance(method, str):
            return None
        instance = self.registry.contracts.get(contract)
        if instance is None:
            return None
        return _method_of(type(instance), method)


def _ours(fn: Callable[..., Any]) -> bool:
    return getattr(fn, "__module__", "").startswith("chaincode.")


@functools.lru_cache(maxsize=1024)
def _function_tree(fn: Callable[..., Any]) -> ast.FunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    node = ast.parse(source).body[0]
    return node if isinstance(node, ast.FunctionDef) else None


@functools.lru_cache(maxsize=64)
def _constants(module_name: str) -> dict[str, Any]:
    """A module's constants (ints, strings and tuples of them), for the messages that name
    them (`role must be one of {ROLES}`)."""
    import sys

    module = sys.modules[module_name]

    def plain(value: Any) -> bool:
        return isinstance(value, (int, str)) or (
            isinstance(value, tuple) and all(isinstance(v, (int, str)) for v in value))

    return {name: value for name, value in vars(module).items()
            if not name.startswith("__") and plain(value)}


def _globals(fn: Callable[..., Any]) -> dict[str, Any]:
    return getattr(fn, "__globals__", {})


def _owner_class(fn: Callable[..., Any]) -> type | None:
    qualname = getattr(fn, "__qualname__", "")
    if "." not in qualname:
        return None
    owner = _globals(fn).get(qualname.split(".")[0])
    return owner if isinstance(owner, type) else None


def _method_of(cls: type, name: str) -> Callable[..., Any] | None:
    """A contract's method by its wire name (`from` is declared `from_`)."""
    for attr in (name, name + "_"):
        found = getattr(cls, attr, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    return None


def _callee_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_code(text: str) -> bool:
    return len(text) >= 3 and text[0].isalpha() and set(text) <= CODE_CHARS and "_" in text


def _bind(callee: Callable[..., Any], args: list[ast.expr], keywords: list[ast.keyword],
          env: Mapping[str, Any], bound_self: bool) -> dict[str, Any]:
    """The callee's parameters that the call gives literal values (or its defaults do)."""
    try:
        parameters = list(inspect.signature(callee).parameters.values())
    except (TypeError, ValueError):
        return {}
    if bound_self and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    values: dict[str, Any] = {p.name: p.default for p in parameters
                              if p.default is not inspect.Parameter.empty
                              and isinstance(p.default, (int, str, tuple))}
    literals = [_literal(a, env) for a in args]
    for index, parameter in enumerate(parameters):
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            rest = literals[index:]
            values[parameter.name] = tuple(rest) if None not in rest else None
            break
        if index < len(literals) and literals[index] is not None:
            values[parameter.name] = literals[index]
    for keyword in keywords:
        value = _literal(keyword.value, env)
        if keyword.arg is not None and value is not None:
            values[keyword.arg] = value
    return values


def _literal(node: ast.expr, env: Mapping[str, Any]) -> Any:
    """The value of a constant expression (names bound in `env` count), else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.Tuple):
        items = [_literal(e, env) for e in node.elts]
        return None if None in items else tuple(items)
    if isinstance(node, ast.BinOp):
        left, right = _literal(node.left, env), _literal(node.right, env)
        if isinstance(left, int) and isinstance(right, int):
            operations = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right,
                          ast.Mult: lambda: left * right,
                          ast.Pow: lambda: left**right if 0 <= right <= 64 else None}
            compute = operations.get(type(node.op))
            return compute() if compute else None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join" and len(node.args) == 1):
        joiner, items = _literal(node.func.value, env), _literal(node.args[0], env)
        if isinstance(joiner, str) and isinstance(items, tuple):
            return joiner.join(str(i) for i in items)
    return None


def _text(node: ast.expr, env: Mapping[str, Any]) -> str:
    """A message as written, its literal parts filled in and the rest shown as `…`."""
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                known = _literal(value.value, env)
                parts.append(UNKNOWN if known is None else str(known))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, env) + _text(node.right, env)
    known = _literal(node, env)
    return UNKNOWN if known is None else str(known)


def method_checks(registry: Any, fn: Callable[..., Any]) -> list[Check]:
    reader = Reader(registry)
    reader.read(fn, {})
    return reader.checks


def contract_methods(registry: Any) -> Iterator[tuple[str, str, str, Callable[..., Any]]]:
    """(contract, method, kind, function) of every transaction and query, registry order."""
    kinds = {(c, m): k for c, m, k in registry.methods()}
    for contract, instance in registry.contracts.items():
        for kind in ("transaction", "query"):
            found = [(method, _method_of(type(instance), method))
                     for (owner, method), of_kind in kinds.items()
                     if owner == contract and of_kind == kind]
            for method, fn in sorted(found, key=lambda item: _first_line(item[1])):
                assert fn is not None, (contract, method)
                yield contract, method, kind, fn


def _first_line(fn: Callable[..., Any] | None) -> int:
    """Where a method is written: the built-ins list them in the order a reader needs."""
    return inspect.unwrap(fn).__code__.co_firstlineno if fn is not None else 0


def signature_text(method: str, fn: Callable[..., Any]) -> str:
    parameters = list(inspect.signature(fn).parameters.values())[2:]  # after self, ctx
    names = [p.name.rstrip("_") + ("?" if p.default is not inspect.Parameter.empty else "")
             for p in parameters]
    return f"{method}({', '.join(names)})"


def contracts_markdown(registry: Any) -> str:
    sections = []
    for contract, instance in registry.contracts.items():
        module = inspect.getmodule(type(instance))
        summary = (inspect.getdoc(module) or "").split("\n\n")[0].replace("\n", " ")
        lines = [f"### {contract}", "", f"{summary} (`{type(instance).__module__}`)", ""]
        for owner, method, kind, fn in contract_methods(registry):
            if owner != contract:
                continue
            checks = method_checks(registry, fn)
            shown = checks[:MAX_CHECKS]
            lines.append(f"- **{signature_text(method, fn)}** — {kind}"
                         + (", checks in order:" if shown else ""))
            lines += [f"  {index}. `{c.code}`" + (f" — {c.message}" if c.message else "")
                      for index, c in enumerate(shown, 1)]
            if len(checks) > len(shown):
                lines.append(f"  … and {len(checks) - len(shown)} more")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


# ---- the file --------------------------------------------------------------------------------

def generated_blocks() -> dict[str, str]:
    import chaincode
    from node.rpc.openapi import document

    return {"routes": routes_markdown(document()),
            "contracts": contracts_markdown(chaincode.builtin_registry())}


def update(text: str, blocks: dict[str, str]) -> str:
    """`text` with each generated block's body replaced; every block must be present."""
    for name, body in blocks.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"docs/reference.md has no generated block {name!r} "
                             f"({begin} ... {end})")
        text = text[:start + len(begin)] + "\n" + body + "\n" + text[stop:]
    return text
