"""Mutation testing with a small AST mutator: does the suite notice when the code is wrong?

Coverage says a line ran; a surviving mutant says no test would notice if that line were
wrong. We use our own mutator rather than mutmut or cosmic-ray: both drive their own test
loop over a copied tree with their own configuration and cache, which cannot be pointed at one
candidate test or run inside our sandbox through an API. The operators are the classic ones
(comparison, arithmetic and boolean operators, constants, returns); each mutant changes one
node, and is run against a scratch copy of the project, never the user's files.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from autocodebase.sandbox.gate import CommandGate

MAX_MUTANTS = 40
_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_SKIP_COPY = shutil.ignore_patterns(
    ".git", ".acb", "__pycache__", ".venv", "venv", "node_modules", ".tox"
)


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    description: str
    source: str
    """The whole mutated module."""


def mutants(path: str, source: str, lines: set[int] | None = None) -> list[Mutant]:
    """Single-change mutants of `source` (only on `lines`, when given), at most MAX_MUTANTS."""
    tree = ast.parse(source)
    found: list[Mutant] = []
    for index, (line, description, _) in enumerate(_sites(tree)):
        if lines is not None and line not in lines:
            continue
        mutated = ast.parse(source)
        target = list(_sites(mutated))[index]
        target[2]()
        found.append(Mutant(path, line, description, ast.unparse(mutated)))
        if len(found) >= MAX_MUTANTS:
            break
    return found


def _sites(tree: ast.AST) -> Iterator[tuple[int, str, Callable[[], None]]]:
    """Every place one operator can change, in a stable order, with the change to make."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                swap = _COMPARE_SWAPS.get(type(op))
                if swap is not None:
                    yield (
                        node.lineno,
                        f"{type(op).__name__} -> {swap.__name__}",
                        _setter(node.ops, i, swap()),
                    )
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            swap_op = _BINOP_SWAPS[type(node.op)]
            yield (
                node.lineno,
                f"{type(node.op).__name__} -> {swap_op.__name__}",
                _attr(node, "op", swap_op()),
            )
        elif isinstance(node, ast.BoolOp):
            other: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield (
                node.lineno,
                f"{type(node.op).__name__} -> {type(other).__name__}",
                _attr(node, "op", other),
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield (
                node.lineno,
                f"{node.value} -> {not node.value}",
                _attr(node, "value", not node.value),
            )
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield (
                node.lineno,
                f"{node.value} -> {node.value + 1}",
                _attr(node, "value", node.value + 1),
            )
        elif isinstance(node, ast.Return) and node.value is not None:
            yield node.lineno, "return value -> None", _attr(node, "value", ast.Constant(None))


def _setter(items: list[ast.cmpop], index: int, value: ast.cmpop) -> Callable[[], None]:
    def apply() -> None:
        items[index] = value

    return apply


def _attr(node: ast.AST, name: str, value: object) -> Callable[[], None]:
    def apply() -> None:
        setattr(node, name, value)

    return apply


@dataclass(frozen=True)
class MutationResult:
    mutant: Mutant
    killed: bool


def run_mutants(
    workspace: Path,
    found: list[Mutant],
    test_command: str,
    gate: CommandGate,
    env: Mapping[str, str],
    timeout_s: int,
) -> list[MutationResult]:
    """Run `test_command` against each mutant in a scratch copy of the project; a mutant is
    killed when the command fails (or times out)."""
    results: list[MutationResult] = []
    if not found:
        return results
    with tempfile.TemporaryDirectory(prefix="acb-mutants-") as scratch:
        copy = Path(scratch) / workspace.name
        shutil.copytree(workspace, copy, ignore=_SKIP_COPY, symlinks=True)
        env = copy_first(env, copy)
        for mutant in found:
            target = copy / mutant.path
            original = target.read_text()
            target.write_text(mutant.source)
            try:
                outcome = gate.run(test_command, copy, env, timeout_s)
            finally:
                target.write_text(original)
            killed = outcome.timed_out or outcome.exit_code != 0
            results.append(MutationResult(mutant, killed))
    return results


def copy_first(env: Mapping[str, str], copy: Path) -> dict[str, str]:
    """`env` with the scratch copy's code first on Python's path, and no bytecode written. A
    project installed in development mode (`pip install -e .`, the usual src layout) is
    imported from where it was installed, the workspace, whatever the current directory: every
    mutant in the copy would survive, unseen. PYTHONPATH comes before site-packages and the
    editable install's finder."""
    roots = [str(copy / "src")] if (copy / "src").is_dir() else []
    roots.append(str(copy))
    if env.get("PYTHONPATH"):
        roots.append(env["PYTHONPATH"])
    # No bytecode cache: a .pyc is trusted while the source's size and mtime (in whole
    # seconds) match, and two mutants of one size written within a second (a fast suite runs
    # several a second) would run the first one's code for the second.
    return {**env, "PYTHONPATH": os.pathsep.join(roots), "PYTHONDONTWRITEBYTECODE": "1"}


def score(results: list[MutationResult]) -> float:
    return sum(r.killed for r in results) / len(results) if results else 0.0
