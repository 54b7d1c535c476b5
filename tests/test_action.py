"""acb's GitHub Action (action.yml), its example workflows (docs/examples/) and its GitLab CI
template (templates/gitlab/): validated like `acb ci`'s output (the bundled schemas, zizmor),
every action pinned to a commit acb knows, the model key reaching only the step that runs acb,
and their steps proven by running them here on the example project with the scripted review."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from autocodebase.delivery.ci import USES, unknown_actions
from autocodebase.delivery.prove import VENV, Proof, Runner, prove, prove_action, steps_of
from autocodebase.programs import installed
from autocodebase.quality.review.findings import Finding
from autocodebase.quality.review.workflows import validate
from tests.conftest import commit_all, git
from tests.fakes.forge_server import ForgeServer
from tests.helpers import demo_review_repo, write_file

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
EXAMPLES = {name: REPO / "docs/examples" / name for name in ("acb-issue.yml", "acb-review.yml")}
GITLAB = REPO / "templates/gitlab/acb.gitlab-ci.yml"
CASSETTE = REPO / "examples/cassettes/wordstats-review.jsonl"
SHA = re.compile(r"[0-9a-f]{40}")
PATH = os.environ["PATH"]


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def findings_of(files: dict[str, str]) -> list[Finding]:
    """Schema and zizmor findings at any severity, each file laid out where its kind lives."""
    assert installed("check-jsonschema") and installed("zizmor"), "the validators are installed"
    with tempfile.TemporaryDirectory(prefix="acb-action-") as scratch:
        for name, text in files.items():
            (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(scratch) / name).write_text(text)
        return validate(Path(scratch), list(files), fail_at="low")


def test_the_action_the_examples_and_the_gitlab_template_validate_clean() -> None:
    """Clean at the bar `acb ci` sets (medium and above). Below it, zizmor only suggests a
    `$/` form for `uses: ./` that acb's schema check does not know; the examples keep `./`."""
    files = {
        "action.yml": ACTION.read_text(),
        **{f".github/workflows/{n}": p.read_text() for n, p in EXAMPLES.items()},
        "templates/gitlab/acb.gitlab-ci.yml": GITLAB.read_text(),
    }
    found = findings_of(files)
    assert [f for f in found if f.severity != "low"] == []
    assert {(f.rule, f.file) for f in found} <= {
        ("self-repository", f".github/workflows/{name}") for name in EXAMPLES
    }


def test_the_validation_does_audit_the_action_and_the_template() -> None:
    """A clean result means something: an input expanded in a script, and a template that is
    not GitLab CI, are caught."""
    injected = ACTION.read_text().replace('"$GITHUB_ACTION_PATH"', "${{ inputs.extra-args }}")
    broken = GITLAB.read_text().replace("  timeout: 60m", "  timeout: [60m]")
    found = findings_of({"action.yml": injected, "templates/gitlab/acb.gitlab-ci.yml": broken})
    assert {(f.tool, f.rule) for f in found} == {
        ("zizmor", "template-injection"),
        ("check-jsonschema", "gitlab-workflow"),
    }


def test_every_action_used_is_pinned_to_a_commit_acb_knows() -> None:
    for path in (ACTION, *EXAMPLES.values()):
        text = path.read_text()
        used = [m for m in map(USES.match, text.splitlines()) if m is not None]
        assert used, f"{path.name} uses actions"
        for match in used:
            action, ref = match.groups()
            assert action == "." or SHA.fullmatch(ref), f"{path.name}: {action}@{ref}"
        assert unknown_actions(text, path.name) == []
    assert unknown_actions("- uses: actions/checkout@" + "0" * 40) != [], "an unknown SHA fails"


def test_the_model_key_and_the_token_reach_only_the_step_that_runs_acb() -> None:
    steps = load(ACTION)["runs"]["steps"]
    for step in steps:
        env = " ".join(str(v) for v in (step.get("env") or {}).values())
        secret = "inputs.model-key }}" in env or "inputs.github-token" in env
        assert secret == (step.get("id") == "acb"), step.get("name") or step.get("uses")
        assert "${{" not in str(step.get("run", "")), "expressions reach scripts through env"
    gitlab = load(GITLAB)
    assert all("ACB_MODEL_KEY" not in str(job.get("variables")) for job in gitlab.values())
    install = [line for line in gitlab[".acb"]["before_script"] if "pip install" in line]
    assert install == [
        'env -u ACB_MODEL_KEY -u GITLAB_TOKEN python -m pip install --quiet "$ACB_PACKAGE"'
    ]


def test_the_example_workflows_ask_for_least_privilege() -> None:
    issue, review = (load(p) for p in EXAMPLES.values())
    for workflow in (issue, review):
        assert workflow["permissions"] == {} and "group" in workflow["concurrency"]
        (job,) = workflow["jobs"].values()
        checkout = job["steps"][0]
        assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert issue[True] == {"issues": {"types": ["labeled"]}}  # YAML 1.1 reads `on` as True
    assert issue["jobs"]["resolve"]["if"] == "github.event.label.name == 'acb'"
    assert issue["jobs"]["resolve"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
        "issues": "read",
    }
    assert review["jobs"]["review"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "security-events": "write",
    }


def test_the_proof_reads_a_composite_action_as_a_runner_would() -> None:
    """Inputs from the context or their defaults, other expressions empty (and said so), the
    runner's bash flags, setup-python stood in for, a conditional step not run blind."""
    steps, not_run = steps_of(
        ACTION.read_text(), "github-action", Runner(context={"inputs.mode": "review"})
    )
    install, run = steps
    assert install.env == {"MODE": "review"}
    assert install.script.startswith("set -eo pipefail\n")
    assert run.env["FAIL_ON"] == "never" and run.env["GITHUB_TOKEN"] == ""
    assert "`${{ github.token }}` (action): not given, empty" in not_run
    conditional = "runs:\n  using: composite\n  steps:\n    - run: x\n      if: always()\n"
    assert steps_of(conditional, "github-action") == (
        [],
        ["step 'step 1' (action): its condition is not evaluated here"],
    )


PROBE_ACTION = """\
runs:
  using: composite
  steps:
    - name: origin
      shell: bash
      run: git remote get-url origin
    - name: reach
      shell: bash
      run: python -c "import sys, urllib.request as u; u.urlopen(sys.argv[1])" "$FORGE" || true
    - name: own the clone
      shell: bash
      run: git config acb.proof owned
"""


@pytest.mark.slow  # two proofs, each making its virtualenv: 30 s or more
def test_a_runner_names_the_clones_origin_shares_the_network_and_may_own_its_git(
    tmp_path: Path,
) -> None:
    """What the forge proofs rest on: `origin` as a checkout sets it, loopback reachable only
    with the runner's network, and the clone's `.git` writable only when the runner says so."""
    root = tmp_path / "project"
    write_file(root / "README.md", "hello\n")
    commit_all(root, "initial", init=True)
    write_file(tmp_path / "action/action.yml", PROBE_ACTION)
    origin = "https://forge.example/octo/project.git"
    with ForgeServer(TOKEN) as forge:
        owned, kept = (
            prove_action(
                tmp_path / "action",
                root,
                Runner(
                    env={"FORGE": f"{forge.url}/api/v3/x"},
                    history=True,
                    origin=origin,
                    writable_git=own,
                    network=own,
                    scratch=tmp_path / name,
                ),
            )
            for own, name in ((True, "owned"), (False, "kept"))
        )
        reached = len(forge.state.requests)
    assert not problem(owned), problem(owned)
    assert owned.results[0].output.strip() == origin
    assert "HTTP Error 401" in owned.results[1].output and reached == 1
    assert "owned" in (tmp_path / "owned/project/.git/config").read_text()
    assert kept.results[0].output.strip() == origin and "HTTP Error" not in kept.results[1].output
    assert kept.results[2].exit_code != 0, "a sandboxed workspace's .git stays read-only"


# -- the steps, run here ------------------------------------------------------------------


def review_runner(root: Path, scratch: Path, **context: str) -> Runner:
    """A pull_request event whose change is the demo commit, reviewed by the scripted model."""
    return Runner(
        env={"GITHUB_EVENT_NAME": "pull_request"},
        context={
            "inputs.mode": "review",
            "inputs.model": f"replay:{CASSETTE}",
            "inputs.post-review": "false",
            "github.event.pull_request.base.sha": git(root, "rev-parse", "HEAD~1").strip(),
            "github.event.pull_request.head.sha": git(root, "rev-parse", "HEAD").strip(),
            **context,
        },
        history=True,
        scratch=scratch,
    )


def sarif_findings(path: Path) -> list[tuple[str, str, int]]:
    results = json.loads(path.read_text())["runs"][0]["results"]
    return [
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    ]


def problem(proof: Proof) -> str:
    """Why the proof did not pass; empty when it did."""
    return proof.failure() or ("" if proof.passed else "no steps ran")


@pytest.mark.slow
def test_the_action_reviews_a_pull_request_here(tmp_path: Path) -> None:
    """setup-python is the proof's virtualenv; then the action's own steps: acb installed
    from the action's checkout, and `acb review` of the pull request's change, with the
    scripted model, writing the SARIF that the example workflow uploads."""
    root = demo_review_repo(tmp_path)
    scratch = tmp_path / "run"
    proof = prove_action(REPO, root, review_runner(root, scratch))
    assert not problem(proof), problem(proof)
    assert [r.name for r in proof.results] == ["action: Install acb", "action: Run acb"]
    assert "acb, version" in proof.results[0].output
    assert "4 proposed, 1 kept, 3 dropped" in proof.results[1].output
    assert sarif_findings(scratch / "wordstats/acb.sarif") == [
        ("model/test-gap", "tests/test_top_words.py", 18)
    ]
    assert (scratch / "runner-temp/github_output").read_text() == "sarif-file=acb.sarif\n"


@pytest.mark.slow
def test_the_action_refuses_a_bad_mode_and_skips_an_issue_labelled_for_something_else(
    tmp_path: Path,
) -> None:
    root = demo_review_repo(tmp_path)
    bad = prove_action(REPO, root, review_runner(root, tmp_path / "bad", **{"inputs.mode": "x"}))
    assert bad.results[0].exit_code == 1
    assert "mode must be resolve or review, not 'x'" in bad.results[0].output
    other_label = Runner(
        env={"GITHUB_EVENT_NAME": "issues"},
        context={
            "inputs.mode": "resolve",
            "github.event.label.name": "bug",
            "github.event.issue.html_url": "https://github.com/o/r/issues/1",
        },
        history=True,
    )
    proof = prove_action(REPO, root, other_label)
    assert not problem(proof), problem(proof)
    assert "labelled 'bug', not 'acb': nothing to do" in proof.results[1].output


@pytest.mark.slow
def test_the_gitlab_template_reviews_a_merge_request_here(tmp_path: Path) -> None:
    root = demo_review_repo(tmp_path)
    scratch = tmp_path / "run"
    runner = Runner(
        env={
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(root, "rev-parse", "HEAD~1").strip(),
            "CI_COMMIT_SHA": git(root, "rev-parse", "HEAD").strip(),
            "ACB_MODEL": f"replay:{CASSETTE}",
            "ACB_POST_REVIEW": "false",
        },
        directories={"ACB_PACKAGE": REPO},
        jobs=frozenset({"acb-review"}),
        history=True,
        scratch=scratch,
    )
    proof = prove(root, ".gitlab-ci.yml", GITLAB.read_text(), "gitlab", runner=runner)
    assert not problem(proof), problem(proof)
    assert len(proof.results) == 4, [r.name for r in proof.results]  # check, install, version
    assert sarif_findings(scratch / "wordstats/acb.sarif") == [
        ("model/test-gap", "tests/test_top_words.py", 18)
    ]


# -- against the loopback forge (tests/fakes/forge_server.py) ------------------------------

TOKEN = "Zq8xV3pL0wR7mK2nB5cT"
"""The job's token: shaped like no known token format, so only acb's registering it with its
redactor (not a pattern) can keep it out of the records."""
RESOLVE_CASSETTE = REPO / "examples/cassettes/wordstats-top-words.jsonl"


def shipped_repo(tmp_path: Path) -> Path:
    """The example project as shipped (no top_words yet), committed on `main`."""
    root = tmp_path / "wordstats"
    git(tmp_path, "clone", "-q", "--no-hardlinks", str(REPO), "clone")
    (tmp_path / "clone/examples/wordstats").rename(root)
    commit_all(root, "as shipped", init=True)
    return root


def served_copy(root: Path, served: Path, project: str) -> Path:
    """The forge's copy of the repository (`served/PROJECT.git`), holding its `main`."""
    bare = served / f"{project}.git"
    bare.parent.mkdir(parents=True)
    git(served, "init", "-q", "--bare", str(bare))
    git(root, "push", "-q", str(bare), "main")
    return bare


def git_that_logs_argv(folder: Path) -> Path:
    """A `git` in `folder` that appends its argv to `folder/git-argv.log`, then runs git."""
    folder.mkdir(parents=True)
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    log = folder / "git-argv.log"
    (folder / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    (folder / "git").chmod(0o755)
    log.touch()
    return log


def pull_request_files(root: Path) -> dict[str, str]:
    """HEAD~1..HEAD as a forge lists a pull request's files: each file's hunks."""
    names = git(root, "diff", "--name-only", "HEAD~1", "HEAD").split()
    patches = {name: git(root, "diff", "HEAD~1", "HEAD", "--", name) for name in names}
    return {name: patch[patch.index("@@") :] for name, patch in patches.items()}


@pytest.mark.slow
def test_the_action_resolves_an_issue_into_a_pull_request_on_the_forge(tmp_path: Path) -> None:
    """An `issues: labeled` event for an issue on a GitHub (the loopback forge, at its host
    as GitHub Enterprise serves one: the API under /api/v3), the checkout's `origin` the
    forge's repository URL, the job's token as `github-token`. The action's steps: acb
    installed from the action's checkout, then `acb resolve ISSUE --remote origin` with the
    scripted model: a branch, a real push over smart HTTP, and a pull request.

    acb's own sandbox cannot be made inside the proof's (bubblewrap does not nest here), so
    the workflow passes `extra-args: --sandbox full-access` and the run's commands are held by
    the proof's sandbox instead: this proves the action's steps, not bubblewrap on a runner."""
    root = shipped_repo(tmp_path)
    scratch = tmp_path / "run"
    temp = scratch / "runner-temp"  # prove_action's RUNNER_TEMP: the steps may write there
    log = git_that_logs_argv(temp / "tools")
    bare = served_copy(root, tmp_path / "served", "octo/wordstats")
    with ForgeServer(TOKEN) as forge:
        forge.state.git_root = tmp_path / "served"
        body = f"The n most frequent words, with their counts. (note: {TOKEN})"
        forge.state.issues[("octo/wordstats", 12)] = {"title": "Add top_words", "body": body}
        runner = Runner(
            env={
                "GITHUB_EVENT_NAME": "issues",
                "ACB_HOME": str(temp / "acb-home"),  # kept, to read its ledger afterwards
                "PATH": os.pathsep.join([str(temp / VENV / "bin"), str(log.parent), PATH]),
            },
            context={
                "inputs.mode": "resolve",
                "inputs.model": f"replay:{RESOLVE_CASSETTE}",
                "inputs.github-token": TOKEN,
                "inputs.extra-args": "--sandbox full-access",
                "github.event.label.name": "acb",
                "github.event.issue.html_url": f"{forge.url}/octo/wordstats/issues/12",
            },
            history=True,
            origin=f"{forge.url}/octo/wordstats.git",
            writable_git=True,
            network=True,
            scratch=scratch,
        )
        proof = prove_action(REPO, root, runner)
    assert not problem(proof), problem(proof)
    assert [r.name for r in proof.results] == ["action: Install acb", "action: Run acb"]
    run = proof.results[1].output
    assert f"{forge.url}/octo/wordstats/pull/1347" in run
    branch = "acb/issue-12-add-top-words"
    pushed = git(bare, "rev-parse", f"refs/heads/{branch}").strip()
    assert "+def top_words" in git(bare, "show", pushed)
    assert git(bare, "rev-parse", f"{pushed}~1").strip() == git(root, "rev-parse", "main").strip()
    assert forge.requests_to("POST", r"^/octo/wordstats\.git/git-receive-pack$")
    [pull] = forge.requests_to("POST", r"^/api/v3/repos/octo/wordstats/pulls$")
    assert pull.headers["Authorization"] == f"Bearer {TOKEN}"
    assert (pull.body["title"], pull.body["head"], pull.body["base"]) == (
        "Add top_words",
        branch,
        "main",
    )
    for expected in ("Closes #12.", "wordstats/core.py", "## Verification", "tests in"):
        assert expected in pull.body["body"], expected
    assert "push" in log.read_text()
    # the token: nowhere on a git command line, in the output, the clone's config, the ledger
    clone = scratch / root.name
    assert "name = github-actions[bot]" in (clone / ".git/config").read_text()
    ledger = list((temp / "acb-home").rglob("ledger.db*"))
    assert ledger, "the run's ledger is kept in the runner's ACB_HOME"
    records = [log, clone / ".git/config", *ledger]
    assert all(TOKEN.encode() not in path.read_bytes() for path in records)
    assert all(TOKEN not in result.output for result in proof.results)


def posting_runner(root: Path, scratch: Path, pull_request: str) -> Runner:
    """The review proof's pull_request event, posting on `pull_request` with the job's token
    (the steps share this machine's network, to reach the loopback forge)."""
    runner = review_runner(
        root,
        scratch,
        **{
            "inputs.post-review": "true",
            "inputs.github-token": TOKEN,
            "github.event.pull_request.html_url": pull_request,
        },
    )
    return dataclasses.replace(runner, network=True)


@pytest.mark.slow
def test_the_action_posts_its_review_on_the_pull_request(tmp_path: Path) -> None:
    """`post-review: true` (the default): `acb review SPEC --post PR_URL --sarif FILE`: the
    finding on a line of the pull request's diff is posted there, and the SARIF written."""
    root = demo_review_repo(tmp_path)
    scratch = tmp_path / "run"
    with ForgeServer(TOKEN) as forge:
        forge.state.files = pull_request_files(root)
        pull_request = f"{forge.url}/octo/wordstats/pull/5"
        proof = prove_action(REPO, root, posting_runner(root, scratch, pull_request))
    assert not problem(proof), problem(proof)
    assert "4 proposed, 1 kept, 3 dropped" in proof.results[1].output
    [review] = forge.requests_to("POST", r"^/api/v3/repos/octo/wordstats/pulls/5/reviews$")
    assert review.headers["Authorization"] == f"Bearer {TOKEN}"
    assert review.body["event"] == "COMMENT"
    comments = [(c["path"], c["line"]) for c in review.body["comments"]]
    assert comments == [("tests/test_top_words.py", 18)]
    assert sarif_findings(scratch / "wordstats/acb.sarif") == [
        ("model/test-gap", "tests/test_top_words.py", 18)
    ]
    assert (scratch / "runner-temp/github_output").read_text() == "sarif-file=acb.sarif\n"
    assert all(TOKEN not in result.output for result in proof.results)


@pytest.mark.slow
def test_the_gitlab_template_posts_its_review_on_the_merge_request(tmp_path: Path) -> None:
    """The template's acb-review job with posting on (`ACB_POST_REVIEW` unset): a discussion
    on the finding's line of the merge request, the summary note, the SARIF artifact."""
    root = demo_review_repo(tmp_path)
    scratch = tmp_path / "run"
    with ForgeServer(TOKEN) as forge:
        forge.state.files = pull_request_files(root)
        runner = Runner(
            env={
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(root, "rev-parse", "HEAD~1").strip(),
                "CI_COMMIT_SHA": git(root, "rev-parse", "HEAD").strip(),
                "CI_MERGE_REQUEST_PROJECT_URL": f"{forge.url}/grp/wordstats",
                "CI_MERGE_REQUEST_IID": "7",
                "ACB_MODEL": f"replay:{CASSETTE}",
                "GITLAB_TOKEN": TOKEN,
            },
            directories={"ACB_PACKAGE": REPO},
            jobs=frozenset({"acb-review"}),
            history=True,
            network=True,
            scratch=scratch,
        )
        proof = prove(root, ".gitlab-ci.yml", GITLAB.read_text(), "gitlab", runner=runner)
    assert not problem(proof), problem(proof)
    project = r"^/api/v4/projects/grp%2Fwordstats/merge_requests/7"
    [discussion] = forge.requests_to("POST", project + "/discussions$")
    assert {k.lower(): v for k, v in discussion.headers.items()}["private-token"] == TOKEN
    position = discussion.body["position"]
    assert (position["new_path"], position["new_line"]) == ("tests/test_top_words.py", 18)
    [note] = forge.requests_to("POST", project + "/notes$")
    assert "**acb review**" in note.body["body"]
    assert sarif_findings(scratch / "wordstats/acb.sarif") == [
        ("model/test-gap", "tests/test_top_words.py", 18)
    ]
    assert all(TOKEN not in result.output for result in proof.results)
