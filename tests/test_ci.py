"""`acb ci`: the plan read from a project's files, workflows that pass their validators for every
ecosystem, steps really run in the sandbox on a clean copy, and model repair over real HTTP
when the proof fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autocodebase.delivery.ci import _validate
from autocodebase.delivery.ci_templates import github_workflow, gitlab_pipeline
from autocodebase.delivery.plan import detect_plan
from tests.conftest import commit_all
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import run_acb, write_file

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wordstats"


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        write_file(root / name, text)
    return root


ECOSYSTEMS = {
    "uv": {
        "pyproject.toml": '[project]\nname = "svc"\nrequires-python = ">=3.10"\n'
        'dependencies = ["psycopg[binary]>=3", "redis"]\n[tool.pytest.ini_options]\n',
        "uv.lock": "",
        "svc/__init__.py": "",
    },
    "node": {
        "package.json": json.dumps(
            {
                "engines": {"node": ">=20"},
                "scripts": {"test": "vitest run", "start": "node ."},
                "dependencies": {"ioredis": "5"},
            }
        ),
        "pnpm-lock.yaml": "",
    },
    "go": {"go.mod": "module example.com/x\n\ngo 1.22\n\nrequire github.com/lib/pq v1.10.9\n"},
    "rust": {"Cargo.toml": '[package]\nname = "x"\nrust-version = "1.78"\n'},
    "maven": {
        "pom.xml": "<project><properties><maven.compiler.release>17"
        "</maven.compiler.release></properties></project>"
    },
}


def test_the_plan_reads_versions_managers_and_services(tmp_path: Path) -> None:
    seen = {}
    for name, files in ECOSYSTEMS.items():
        plan = detect_plan(project(tmp_path / name, files))
        lang = plan.languages[0]
        seen[name] = (
            lang.name,
            lang.version,
            lang.package_manager,
            plan.test_command,
            plan.services,
        )
    assert seen == {
        "uv": ("python", "3.10", "uv", "python -m pytest -q", ["postgres", "redis"]),
        "node": ("node", "20", "pnpm", "pnpm test", ["redis"]),
        "go": ("go", "1.22", "go modules", "go test ./...", ["postgres"]),
        "rust": ("rust", "1.78", "cargo", "cargo test", []),
        "maven": ("java", "17", "maven", "mvn -q -B test", []),
    }
    assert detect_plan(tmp_path / "uv").languages[0].run_prefix == "uv run "


def test_every_template_passes_the_schema_and_zizmor(tmp_path: Path) -> None:
    for name, files in ECOSYSTEMS.items():
        plan = detect_plan(project(tmp_path / name, files))
        github = github_workflow(plan)
        assert _validate(".github/workflows/ci.yml", github) == [], (name, github)
        assert _validate(".gitlab-ci.yml", gitlab_pipeline(plan)) == [], name
        assert "@v" not in github.split("#")[0], "actions pinned by SHA"
    uv = github_workflow(detect_plan(tmp_path / "uv"))
    assert "postgres:\n        image: postgres:16" in uv and "run: uv run python -m pytest -q" in uv


def example_repo(tmp_path: Path) -> Path:
    root = tmp_path / "wordstats"
    shutil.copytree(EXAMPLE, root)
    commit_all(root, "as shipped", init=True)
    return root


def test_acb_ci_proves_the_example_and_writes_workflow_and_docs(tmp_path: Path) -> None:
    root = example_repo(tmp_path)
    done = run_acb("ci", "--docs", "--json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["proven"] and report["written"] == [".github/workflows/ci.yml", "docs/ci.md"]
    assert [(s["name"], s["exit_code"]) for s in report["steps"]] == [
        ("test: Install", 0),
        ("test: Test", 0),
    ]
    workflow = (root / ".github/workflows/ci.yml").read_text()
    assert 'branches: ["main"]' in workflow and "persist-credentials: false" in workflow
    assert "python -m pytest -q" in (root / "docs/ci.md").read_text()
    assert not (root / ".ci-venv").exists(), "the proof ran on a copy"
    again = run_acb("ci", cwd=root)
    assert again.returncode == 2 and "pass --overwrite" in again.stderr
    gitlab = run_acb("ci", "--provider", "gitlab", cwd=root)
    assert gitlab.returncode == 0, gitlab.stderr
    assert 'image: "python:' in (root / ".gitlab-ci.yml").read_text()


STRICT_TEST = """import os


def test_runs_in_test_mode():
    assert os.environ.get("APP_ENV") == "test", "set APP_ENV=test"
"""


def strict_repo(tmp_path: Path) -> Path:
    root = example_repo(tmp_path)
    write_file(root / "tests/test_mode.py", STRICT_TEST)
    commit_all(root, "tests need APP_ENV")
    return root


def test_a_failing_proof_writes_nothing_and_says_why(tmp_path: Path) -> None:
    root = strict_repo(tmp_path)
    done = run_acb("ci", cwd=root)
    assert done.returncode == 1
    assert "not written" in done.stderr and "set APP_ENV=test" in done.stderr
    assert not (root / ".github").exists()


def test_the_model_repairs_until_the_workflow_validates_and_passes(tmp_path: Path) -> None:
    root = strict_repo(tmp_path)
    plan = detect_plan(root)
    fixed = github_workflow(plan).replace(
        "    timeout-minutes: 30\n", '    timeout-minutes: 30\n    env:\n      APP_ENV: "test"\n'
    )
    unpinned = fixed.replace(
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1", "actions/checkout@v4"
    )
    script = [Reply(f"```yaml\n{unpinned}```"), Reply(f"Pinned it.\n```yaml\n{fixed}```")]
    with MockModelServer(script) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb("ci", "--json", "-m", "openai/mock-model", cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    attempts = report["attempts"]
    assert [a["source"] for a in attempts] == ["template", "model-repair", "model-repair"]
    assert "set APP_ENV=test" in attempts[0]["problem"]
    assert "zizmor unpinned-uses" in attempts[1]["problem"]
    assert attempts[2]["problem"] == ""
    first_request = server.requests[0].body["messages"][-1]["content"]
    assert "set APP_ENV=test" in first_request and "persist-credentials" in first_request
    assert (root / ".github/workflows/ci.yml").read_text() == fixed


@pytest.mark.parametrize("bad", ["--provider circleci", "-C /nonexistent/dir"])
def test_bad_input_is_one_line(tmp_path: Path, bad: str) -> None:
    done = run_acb("ci", *bad.split(), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_repair_model_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    root = strict_repo(tmp_path)
    with MockModelServer([Fault(status=401)]) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb("ci", "-m", "openai/mock-model", cwd=root, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "the model could not be reached" in done.stderr
    assert not (root / ".github").exists()


def test_a_made_up_action_sha_is_refused_and_the_repair_is_told_the_real_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invented SHA passes the schema and zizmor; only the pins acb knows may stand."""
    from autocodebase.delivery.ci import build_ci, unknown_actions
    from autocodebase.delivery.ci_templates import known_pins
    from autocodebase.models.cassette import ScriptedModel
    from tests.helpers import reply

    plan = detect_plan(project(tmp_path / "uv", ECOSYSTEMS["uv"]))
    good = github_workflow(plan)
    assert unknown_actions(good) == []
    invented = "0123456789abcdef0123456789abcdef01234567"
    forged = good.replace(known_pins()["actions/checkout"], invented)
    assert _validate(".github/workflows/ci.yml", forged) == [], "the schema and zizmor pass it"
    (finding,) = unknown_actions(forged, ".github/workflows/ci.yml")
    assert f"actions/checkout@{invented} is not a commit acb knows" in finding.message
    assert unknown_actions("    - uses: actions/checkout@v4\n")[0].rule == "unknown-action-pin"
    assert unknown_actions("    - uses: ./.github/actions/local\n") == []

    # No template this time: the model drafts with a forged pin, then repairs with the real one.
    from autocodebase.delivery import ci
    from autocodebase.delivery.ci_templates import NoTemplate

    def no_template(*args: object, **kwargs: object) -> str:
        raise NoTemplate("a project the templates do not cover")

    monkeypatch.setattr(ci, "render", no_template)
    model = ScriptedModel(
        [
            reply(f"<think>pin it</think>\n```yaml\n{forged}```"),
            reply(f"Fixed:\n```yaml\n{good}```"),
        ]
    )
    outcome = build_ci(tmp_path / "uv", plan, "github", model=model, rounds=2, run_steps=False)
    assert outcome.proven and outcome.text == good
    repair_prompt = model.requests[1][1].content
    assert "is not a commit acb knows" in repair_prompt
    assert f"actions/checkout@{known_pins()['actions/checkout']}" in repair_prompt
