"""bashlex, imported without recomputing its parser tables on every start.

bashlex builds its LALR tables with its own copy of PLY each time it is imported (it has no
table cache): about half a second of CPU here, paid by every run whose first command has shell
syntax, and by the warm-up that prepares it while the first request is out, which then holds
the interpreter's lock while the first steps run. The tables depend only on the grammar, so
acb keeps them in `bash_tables.json` beside this module, computed from the pinned bashlex
(`python -m autocodebase.sandbox.classify.bash_tables` writes them again), and hands them to
bashlex's own parser instead of computing them.

They are used only for the grammar they were computed from: the productions and precedence
bashlex declares are compared with the ones recorded, and any difference (another bashlex)
falls back to PLY's computation. The rest of bashlex (its grammar, its callbacks, its
corrections to the tables after they are built) runs unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

TABLES = Path(__file__).with_name("bash_tables.json")


def grammar_key(grammar: Any) -> list[Any]:
    """What the tables are a function of: every production, in order, and the precedence
    of each terminal."""
    productions = [str(p) for p in grammar.Productions]
    precedence = sorted([term, list(rule)] for term, rule in grammar.Precedence.items())
    return [productions, precedence]


class _RecordedTables:
    """Stands in for PLY's `LRTable` with the tables read from `TABLES`: the attributes
    `yacc()` and `LRParser` read, nothing else."""

    def __init__(self, grammar: Any, recorded: dict[str, Any]) -> None:
        self.grammar = grammar
        self.lr_productions = grammar.Productions
        self.lr_action = {int(s): dict(row) for s, row in recorded["action"].items()}
        self.lr_goto = {int(s): dict(row) for s, row in recorded["goto"].items()}
        self.sr_conflicts: list[Any] = []
        self.rr_conflicts: list[Any] = []

    def bind_callables(self, pdict: dict[str, Any]) -> None:
        for production in self.lr_productions:
            production.bind(pdict)


def _recorded() -> dict[str, Any] | None:
    """The recorded tables, or None when the file is missing or not shaped like them (then
    PLY computes the tables, as bashlex always did)."""
    try:
        data = json.loads(TABLES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("grammar"), list):
        return None
    for table in ("action", "goto"):
        rows = data.get(table)
        if not isinstance(rows, dict) or not all(
            state.isdigit() and isinstance(row, dict) for state, row in rows.items()
        ):
            return None
    return data


def _import_with_tables(make_tables: Callable[[Any, Any, Any], Any]) -> ModuleType:
    """Import bashlex with PLY's `LRTable(grammar, log)` replaced by
    `make_tables(computed, grammar, log)` while its parser module builds its parser (PLY's own
    class is put back after); on any failure no `bashlex` module is left half imported."""
    spec = importlib.util.find_spec("bashlex")
    if spec is None or spec.loader is None:
        raise ImportError("bashlex is not installed")
    package = importlib.util.module_from_spec(spec)
    sys.modules["bashlex"] = package
    try:
        yacc: Any = importlib.import_module("bashlex.yacc")
        computed = yacc.LRTable
        yacc.LRTable = lambda grammar, log=None: make_tables(computed, grammar, log)
        try:
            spec.loader.exec_module(package)
        finally:
            yacc.LRTable = computed
    except BaseException:
        for name in [n for n in sys.modules if n == "bashlex" or n.startswith("bashlex.")]:
            del sys.modules[name]
        raise
    return package


def import_bashlex() -> ModuleType:
    """`import bashlex`, with the recorded tables when they fit its grammar."""
    if "bashlex" in sys.modules:
        return sys.modules["bashlex"]
    recorded = _recorded()
    if recorded is None or importlib.util.find_spec("bashlex") is None:
        return importlib.import_module("bashlex")

    def tables(computed: Any, grammar: Any, log: Any) -> Any:
        if grammar_key(grammar) == recorded["grammar"]:
            return _RecordedTables(grammar, recorded)
        return computed(grammar, log)

    return _import_with_tables(tables)


def compute_tables() -> dict[str, Any]:
    """The tables PLY computes for the installed bashlex's grammar, as `TABLES` holds them
    (imports bashlex in a fresh interpreter state of its own: call it from a script)."""
    if "bashlex" in sys.modules:
        raise RuntimeError("compute the tables before bashlex is imported")
    seen: dict[str, Any] = {}

    def recording(computed: Any, grammar: Any, log: Any) -> Any:
        table = computed(grammar, log)
        # Copied now: bashlex corrects a few entries of the built parser's tables in place.
        seen["tables"] = {
            "grammar": grammar_key(grammar),
            "action": {str(s): dict(row) for s, row in table.lr_action.items()},
            "goto": {str(s): dict(row) for s, row in table.lr_goto.items()},
        }
        return table

    _import_with_tables(recording)
    tables: dict[str, Any] = seen["tables"]
    return tables


if __name__ == "__main__":
    TABLES.write_text(json.dumps(compute_tables(), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TABLES}")
