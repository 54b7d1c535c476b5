"""How a project runs its tests, found from its files: the runner, the command, and how to get
structured results out of it.

Direct runners (pytest, go test, cargo test, ...) are preferred over wrappers (`make test`,
`npm test`, tox) when both exist: they can write machine-readable results and run a selection
of tests, which is what the test loop needs after every edit. A project's `.acb/config.toml`
can say otherwise: `[test] command = "..."` wins over detection.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

Report = str
"""How results come back: "junit" (a JUnit XML file), "go-json" (`go test -json`), "output",
"output-file" (the console output, whole, in `OUTPUT_FILE` of the report directory)."""
OUTPUT_FILE = "output.txt"


@dataclass(frozen=True)
class TestCommand:
    __test__ = False  # not a pytest test class, despite the name

    runner: str
    """pytest, unittest, django, tox, nox, npm, pnpm, yarn, go, cargo, maven, gradle, make or
    custom."""
    command: str
    reason: str
    """Which file said so, for the human reading `acb tests --detect` or a run's record."""

    def invocation(self, report_dir: str, selector: str | None = None) -> tuple[str, Report]:
        """The command line to run (with `selector` narrowing it where the runner allows) and
        where its structured results will be."""
        chosen = f" {selector}" if selector else ""
        if self.runner == "pytest":
            junit = f"--junitxml={report_dir}/junit.xml -o junit_family=xunit1"
            # One test file that cannot be imported (an optional dependency missing, a
            # plugin too new) must not stop the rest: it is reported as an error of its own.
            go_on = "--continue-on-collection-errors"
            chosen = f" {pytest_words(selector)}" if selector else ""
            return f"{self.command} -p no:cacheprovider {go_on} {junit}{chosen}", "junit"
        if self.runner == "go":
            target = f" -run {_quote(selector)} ./..." if selector else " ./..."
            return f"{self.command.removesuffix(' ./...')} -json{target}", "go-json"
        if self.runner == "cargo":
            return f"{self.command}{chosen}", "output"
        if self.runner == "maven":
            select = f" -Dtest={_quote(selector)}" if selector else ""
            return f"{self.command}{select}", "junit:target/surefire-reports"
        if self.runner == "gradle":
            select = f" --tests {_quote(selector)}" if selector else ""
            return f"{self.command}{select}", "junit:build/test-results/test"
        if self.runner in ("unittest", "django"):
            # The whole output to a file: a command's output is cut to its beginning and end,
            # and the per-test lines of a large selection are in the middle.
            return f"{self.plain(selector)} >{report_dir}/{OUTPUT_FILE} 2>&1", "output-file"
        return self.command, "output"

    def plain(self, selector: str | None = None) -> str:
        """The command line with no report file (a read-only sandbox cannot write one)."""
        if self.runner == "django":
            labels = django_labels(selector) if selector else ""
            return f"{self.command}{' ' + labels if labels else ''}"
        if self.runner == "pytest" and selector:
            return f"{self.command} {pytest_words(selector)}"
        return f"{self.command} {selector}" if selector else self.command

    def shown(self, selector: str | None = None) -> str:
        """The command as the project would run it, for the model and the user to read and
        rerun: without what acb adds only to read results back (a JUnit file in a scratch
        directory that is gone once the tests ran, `-p no:cacheprovider`, `-json`, a
        redirection), which a model would otherwise copy into its own commands."""
        if self.runner in ("pytest", "unittest", "django"):
            return self.plain(selector)
        if self.runner == "go":
            target = f" -run {_quote(selector)} ./..." if selector else " ./..."
            return f"{self.command.removesuffix(' ./...')}{target}"
        return self.invocation("", selector)[0]


_PYTEST_WORD = re.compile(r"(?:[^\s\[]+|\[[^\]]*\])+")


def pytest_words(selector: str) -> str:
    """`selector` with each node id one shell word: a parametrised id (`test_m[a b]`,
    `test_m[x(1)]`, `test_m[*]`) is one argument to pytest but several words, a glob or a
    syntax error to bash, and failing tests are shown to the model as such ids to pass back.
    Other words (paths, options, `-k 'a or b'`) stay as written."""
    import shlex

    words = _PYTEST_WORD.findall(selector)
    if "".join("".join(words).split()) != "".join(selector.split()):
        return selector  # an unbalanced bracket: nothing to tell words apart by
    return " ".join(shlex.quote(w) if "::" in w and w[:1] not in "'\"" else w for w in words)


def runs_pytest_last(command: str) -> bool:
    """Whether `command`'s last simple command is pytest, with nothing after it that would take
    the arguments acb appends (a pipe, a redirection): then a user's own command still reports
    results test by test through JUnit XML."""
    import shlex

    last = re.split(r"&&|\|\||;", command)[-1]
    if any(mark in last for mark in ("|", ">", "<", "`", "$(")):
        return False
    try:
        words = shlex.split(last)
    except ValueError:
        return False
    words = [w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)]
    if not words:
        return False
    program = words[0].rsplit("/", 1)[-1]
    if program in ("pytest", "py.test"):
        return True
    return program.startswith("python") and words[1:3] == ["-m", "pytest"]


DJANGO_COMMAND = "python tests/runtests.py --verbosity 2 --parallel 1"
"""Django's own runner: one line per test (`--verbosity 2`) to read results from, in one
process (`--parallel 1`: workers would interleave their lines and hide tracebacks)."""


def django_labels(selector: str) -> str:
    """A selector as Django's runner takes it: files, node ids and directories become dotted
    labels relative to `tests/` (`tests/utils_tests/test_text.py::TestUtilsText::test_x` ->
    `utils_tests.test_text.TestUtilsText.test_x`); labels and options stay as they are. The
    gate selects by file and models write pytest node ids, but runtests.py knows only labels."""
    words = selector.split()
    out: list[str] = []
    for index, word in enumerate(words):
        if word.startswith("-") or (index and words[index - 1] in ("-k", "--tag")):
            out.append(word)
            continue
        label = _django_label(word)
        if label:
            out.append(label)
    kept = [w for w in out if not django_aborts(w)]
    return " ".join(kept if any(not w.startswith("-") for w in kept) else out)


def django_aborts(label_or_path: str) -> bool:
    """runtests.py aborts the whole run on a `gis_tests` label without a GIS database, which
    its default SQLite settings never have: such tests are left out of a larger selection
    (asked for alone, the abort says why)."""
    label = _django_label(label_or_path) if not label_or_path.startswith("-") else ""
    return label.split(".")[0] == "gis_tests"


def _django_label(word: str) -> str:
    path, _, members = word.partition("::")
    if "/" in path or path.endswith(".py"):
        parts = list(PurePosixPath(path.removesuffix(".py")).parts)
        parts = parts[1:] if parts[:1] == ["tests"] else parts
        parts = parts[:-1] if parts[-1:] == ["__init__"] else parts
        label = ".".join(parts)
    else:
        label = path.removeprefix("tests.") if path != "tests" else ""
    named = [re.sub(r"\[.*\]$", "", m) for m in members.split("::") if m]
    return ".".join([label, *named]) if label else ""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def detect_all(root: Path, configured: str | None = None) -> list[TestCommand]:
    """Every way of running the tests that the project's files suggest, best first."""
    found: list[TestCommand] = []
    if configured:
        runner = "pytest" if runs_pytest_last(configured) else "custom"
        found.append(TestCommand(runner, configured, "[test] command in .acb/config.toml"))
    found += _python(root)
    found += _javascript(root)
    if (root / "go.mod").is_file():
        found.append(TestCommand("go", "go test ./...", "go.mod"))
    if (root / "Cargo.toml").is_file():
        found.append(TestCommand("cargo", "cargo test", "Cargo.toml"))
    if (root / "pom.xml").is_file():
        found.append(TestCommand("maven", "mvn -q -B test", "pom.xml"))
    gradle = next((n for n in ("build.gradle", "build.gradle.kts") if (root / n).is_file()), None)
    if gradle:
        wrapper = "./gradlew" if (root / "gradlew").is_file() else "gradle"
        found.append(TestCommand("gradle", f"{wrapper} test", gradle))
    makefile = root / "Makefile"
    if makefile.is_file() and re.search(r"^test\s*:", _read(makefile), re.M):
        found.append(TestCommand("make", "make test", "Makefile has a test target"))
    return found


def detect(root: Path, configured: str | None = None) -> TestCommand | None:
    found = detect_all(root, configured)
    return found[0] if found else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _python(root: Path) -> list[TestCommand]:
    found: list[TestCommand] = []
    if _is_django(root):
        found.append(TestCommand("django", DJANGO_COMMAND, "tests/runtests.py (Django's runner)"))
    reason = _pytest_reason(root)
    if reason:
        found.append(TestCommand("pytest", "python -m pytest -q", reason))
    if (root / "tox.ini").is_file():
        found.append(TestCommand("tox", "tox", "tox.ini"))
    if (root / "noxfile.py").is_file():
        found.append(TestCommand("nox", "nox", "noxfile.py"))
    if not reason and _uses_unittest(root):
        found.append(TestCommand("unittest", "python -m unittest -v", "test files import unittest"))
    return found


def _is_django(root: Path) -> bool:
    """Django itself: its suite runs only through `tests/runtests.py` (pytest cannot import
    its test apps), which takes `--parallel` and labels. A project's own runtests.py that
    does not is left to the other runners."""
    text = _read(root / "tests" / "runtests.py")
    return "django" in text and "--parallel" in text


def _pytest_reason(root: Path) -> str | None:
    if (root / "pytest.ini").is_file():
        return "pytest.ini"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(_read(pyproject)).get("tool", {})
        except tomllib.TOMLDecodeError:
            tool = {}
        if "pytest" in tool:
            return "[tool.pytest] in pyproject.toml"
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        parser = configparser.ConfigParser()
        try:
            parser.read_string(_read(root / name))
        except configparser.Error:
            continue
        if parser.has_section(section):
            return f"[{section}] in {name}"
    if (root / "conftest.py").is_file() or (root / "tests" / "conftest.py").is_file():
        return "conftest.py"
    tests = [*root.glob("test_*.py"), *root.glob("tests/**/test_*.py")]
    if any("import unittest" not in _read(t) for t in tests[:20]):
        return "test_*.py files written for pytest"
    return None


def _uses_unittest(root: Path) -> bool:
    tests = [*root.glob("test*.py"), *root.glob("tests/**/test*.py")]
    return any("import unittest" in _read(t) for t in tests[:20])


def _javascript(root: Path) -> list[TestCommand]:
    package = root / "package.json"
    if not package.is_file():
        return []
    try:
        scripts = json.loads(_read(package)).get("scripts", {})
    except (json.JSONDecodeError, AttributeError):
        return []
    script = scripts.get("test") if isinstance(scripts, dict) else None
    if not isinstance(script, str) or "no test specified" in script:
        return []
    if (root / "pnpm-lock.yaml").is_file():
        manager = "pnpm"
    elif (root / "yarn.lock").is_file():
        manager = "yarn"
    else:
        manager = "npm"
    return [TestCommand(manager, f"{manager} test", f"package.json scripts.test: {script}")]
