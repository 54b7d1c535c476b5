"""bashlex with its parser tables read from bash_tables.json: the same tables PLY computes
for the installed grammar, the same trees, and PLY's own computation for any other grammar."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from autocodebase.sandbox.classify import bash_tables

COMMANDS = [
    "ls -la",
    "a | b && c $(d) > e",
    'for f in *.py; do echo "$f"; done',
    "x=1 y=2 env | grep -c x 2>&1",
    "cat <<EOF\nhello\nEOF",
    "( cd sub && make ) || echo failed",
    "if true; then echo `date`; fi",
    "echo $HOME >> out.txt",
    "echo $((1 + 2))",  # bashlex refuses arithmetic: the same error either way
    "echo 'unclosed",
]


def _python(code: str, stdin: str = "") -> str:
    """Run `code` in a fresh interpreter (bashlex can be imported once per process)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


SPY = """
from autocodebase.sandbox.classify import bash_tables

class Spy(bash_tables._RecordedTables):
    def __init__(self, *args):
        print("recorded tables")
        super().__init__(*args)

bash_tables._RecordedTables = Spy
"""


def test_the_recorded_tables_are_what_ply_computes_for_the_installed_bashlex() -> None:
    computed = json.loads(
        _python(
            """
            import json
            from autocodebase.sandbox.classify.bash_tables import compute_tables
            print(json.dumps(compute_tables()))
            """
        )
    )
    recorded = json.loads(bash_tables.TABLES.read_text(encoding="utf-8"))
    assert computed == recorded, "run python -m autocodebase.sandbox.classify.bash_tables"


PARSE_ALL = """
import json, sys

def trees(command):
    try:
        return [t.dump() for t in bashlex.parse(command)]
    except Exception as error:
        return [f"{type(error).__name__}: {error}"]

print(json.dumps([trees(c) for c in json.load(sys.stdin)]))
"""


def test_bashlex_parses_the_same_with_recorded_and_computed_tables() -> None:
    said = _python(
        SPY + "bashlex = bash_tables.import_bashlex()\n" + PARSE_ALL, json.dumps(COMMANDS)
    ).splitlines()
    assert said[0] == "recorded tables"
    recorded = json.loads(said[1])
    computed = json.loads(_python("import bashlex\n" + PARSE_ALL, json.dumps(COMMANDS)))
    assert recorded == computed
    assert "PipelineNode" in recorded[1][0] and "heredoc" in recorded[4][0]
    assert recorded[-2][0].startswith("NotImplementedError") and "Error" in recorded[-1][0]


def test_tables_for_another_grammar_are_computed_not_read() -> None:
    said = _python(
        SPY
        + """
import json
recorded = json.loads(bash_tables.TABLES.read_text())
recorded["grammar"][0][1] = "something -> else"
bash_tables._recorded = lambda: recorded
bashlex = bash_tables.import_bashlex()
print(bashlex.parse("a && b")[0].kind)
"""
    )
    assert said.split() == ["list"]  # parsed, and the spy never spoke


def test_a_tables_file_of_the_wrong_shape_is_not_used(tmp_path: Path) -> None:
    """Found by a differential fuzz of the recorded tables: valid JSON of another shape made
    the import raise instead of falling back to PLY."""
    for text in ("[]", "42", "{}", '{"grammar": [], "action": {"x": {}}, "goto": {}}'):
        bad = tmp_path / "tables.json"
        bad.write_text(text)
        said = _python(
            SPY
            + f"""
from pathlib import Path
bash_tables.TABLES = Path({str(bad)!r})
assert bash_tables._recorded() is None
print(bash_tables.import_bashlex().parse("a | b")[0].kind)
"""
        )
        assert said.split() == ["pipeline"], text
