"""`acb eval swe-bench` (issue 19): the harness checked with its two reference models over
instances built from a local repository, graded by the official swebench functions in venvs
built here, on the local pool and on Ray; resumable, and a dying worker loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from autocodebase.errors import UsageError
from autocodebase.evaluation.executors import run_local
from autocodebase.evaluation.grading import apply_candidate, local_eval_script, touches_private
from autocodebase.evaluation.instances import instance_from_record, load_instances, select
from autocodebase.evaluation.pipeline import Options
from autocodebase.evaluation.results import InstanceResult, load_results, write_reports
from tests.conftest import git
from tests.eval_instances import make_calc_repository
from tests.fakes.mock_server import Fault, MockModelServer, Reply
from tests.helpers import run_acb

swebench = pytest.importorskip("swebench")


@pytest.fixture(scope="module")
def calc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The repositories folder and a dataset file of two instances (plus one whose Python does
    not exist here)."""
    root = tmp_path_factory.mktemp("eval")
    _, instances = make_calc_repository(root / "repos")
    impossible = {**instances[0], "instance_id": "acme__calc-3"}
    impossible["environment"] = {**instances[0]["environment"], "python": "2.5"}
    dataset = root / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(i) + "\n" for i in [*instances, impossible]))
    return root / "repos", dataset


@pytest.fixture(scope="module")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the module: a venv is built once (that is the point of it)."""
    cache = Path(f"/var/tmp/acb-eval-tests-{os.getuid()}")
    cache.mkdir(mode=0o700, exist_ok=True)
    return cache


def _eval(calc: tuple[Path, Path], cache: Path, out: Path, *args: str) -> Any:
    repos, dataset = calc
    where = ["--dataset", str(dataset), "--repos", str(repos), "--cache", str(cache)]
    return run_acb(
        "eval", "swe-bench", *where, "--out", str(out), *args, cwd=out.parent, timeout=900
    )


def _report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text()))


# --- quick: the parts, without building anything -------------------------------------------


def test_instances_are_read_and_chosen(calc: tuple[Path, Path]) -> None:
    instances = load_instances(calc[1])
    assert [i.instance_id for i in instances] == ["acme__calc-1", "acme__calc-2", "acme__calc-3"]
    assert instances[0].fail_to_pass == ("tests/test_add.py::test_add",)
    assert [i.instance_id for i in select(instances, ["acme__calc-2"])] == ["acme__calc-2"]
    assert [i.instance_id for i in select(instances, (), "1:")] == ["acme__calc-2", "acme__calc-3"]
    with pytest.raises(UsageError, match="no such instance"):
        select(instances, ["nope"])
    with pytest.raises(UsageError, match="A:B"):
        select(instances, (), "x")


@pytest.mark.parametrize(
    "field,value",
    [
        ("instance_id", "../../home/victim"),
        ("instance_id", ".."),
        ("instance_id", "a/b"),
        ("repo", "../etc"),
        ("repo", "owner/../../x"),
        ("repo", "no-slash"),
    ],
)
def test_names_that_would_climb_out_of_the_output_folder_are_refused(
    calc: tuple[Path, Path], field: str, value: str
) -> None:
    """`OUT/work/<id>` is deleted and re-created: a hostile dataset must not name `..`."""
    record = json.loads(calc[1].read_text().splitlines()[0])
    with pytest.raises(UsageError, match=r"may hold only|owner/name"):
        instance_from_record({**record, field: value}, "dataset #1")


def test_an_environment_date_that_is_no_date_is_refused_on_load(calc: tuple[Path, Path]) -> None:
    record = json.loads(calc[1].read_text().splitlines()[0])
    environment = {**(record.get("environment") or {}), "packages_before": "last spring"}
    with pytest.raises(UsageError, match=r"dataset #1: environment.packages_before 'last spring'"):
        instance_from_record({**record, "environment": environment}, "dataset #1")
    environment["packages_before"] = "2024-03-01"
    assert instance_from_record({**record, "environment": environment}, "dataset #1")


def test_a_bad_dataset_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"instance_id": "x"}]')
    done = run_acb("eval", "swe-bench", "--dataset", str(bad), "--model", "gold", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "lacks repo" in done.stderr


def test_the_official_script_is_made_local_and_nothing_else() -> None:
    lines = [
        "source /opt/miniconda3/bin/activate",
        "conda activate testbed",
        "cd /testbed",
        "git config --global --add safe.directory /testbed",
        "git apply -v - <<'EOF_1'\n--- a/testbed/x\n+++ b/testbed/x\nEOF_1",
        "pytest -rA tests/test_x.py",
    ]
    script = local_eval_script(lines, Path("/w/t"))
    assert "conda" not in script and "miniconda" not in script
    assert "source /w/t/.acb-env/bin/activate\n" in script
    assert 'export PATH="/w/t/.acb-env/bin:/usr/local/sbin:' in script, "no user PATH (pyenv)"
    assert "\ncd /w/t\n" in script
    assert "safe.directory /w/t\n" in script
    assert "a/testbed/x" in script, "the test patch's text is left alone"


def test_reports_and_predictions_in_the_official_format(tmp_path: Path) -> None:
    results = [
        InstanceResult("b-1", "resolved", "m", patch="diff --git a/x b/x\n", environment="venv"),
        InstanceResult("a-1", "unresolved", "m", patch="", environment="venv"),
        InstanceResult("c-1", "environment_error", "m", environment="not built: no Python"),
    ]
    report = write_reports(tmp_path, results, "m")
    assert report["resolved"] == ["b-1"] and report["unresolved"] == ["a-1"]
    assert report["error"] == ["c-1"] == report["environment_error"]
    preds = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert preds == [
        {"instance_id": "a-1", "model_name_or_path": "m", "model_patch": ""},
        {"instance_id": "b-1", "model_name_or_path": "m", "model_patch": "diff --git a/x b/x\n"},
    ]
    assert (
        "Resolved 1 of 2 graded instances; 1 environment errors"
        in (tmp_path / "report.md").read_text()
    )


# --- slow: real environments, real grading --------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)  # a first venv build fetches packages from the index
@pytest.mark.parametrize("model,resolved", [("gold", 2), ("empty", 0)])
def test_gold_resolves_every_buildable_instance_and_empty_none(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path, model: str, resolved: int
) -> None:
    out = tmp_path / "out"
    done = _eval(calc, eval_cache, out, "--model", model, "--workers", "2")
    assert done.returncode == 1, done.stderr[-2000:]  # the Python 2.5 instance is an error
    report = _report(out)
    assert len(report["resolved"]) == resolved, done.stderr[-2000:]
    assert report["environment_error"] == ["acme__calc-3"]
    assert "no Python 2.5" in report["instances"]["acme__calc-3"]["error"]
    assert report["environment"]["acme__calc-1"].startswith("venv acme__calc-0.1-")
    # The official loader takes our predictions file.
    from swebench.harness.run_evaluation import get_dataset_from_preds
    from swebench.harness.utils import get_predictions_from_file

    predictions = get_predictions_from_file(str(out / "preds.jsonl"), str(calc[1]), "test")
    by_id = {p["instance_id"]: p for p in predictions}
    assert sorted(by_id) == ["acme__calc-1", "acme__calc-2"]
    chosen = get_dataset_from_preds(str(calc[1]), "test", [], by_id, "t", False, False)
    # The official harness evaluates non-empty patches only (it counts empty ones apart).
    expected = ["acme__calc-1", "acme__calc-2"] if model == "gold" else []
    assert sorted(i["instance_id"] for i in chosen) == expected
    assert not list((out / "work").iterdir()), "checkouts are removed after grading"


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)  # a first venv build fetches packages from the index
def test_a_rerun_skips_what_is_done(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _eval(calc, eval_cache, out, "--model", "gold", "--instances", "acme__calc-1")
    assert first.returncode == 0, first.stderr[-2000:]
    done_at = (out / "instances" / "acme__calc-1.json").stat().st_mtime_ns
    second = _eval(calc, eval_cache, out, "--model", "gold", "--slice", "0:2")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 already done" in second.stderr
    assert (out / "instances" / "acme__calc-1.json").stat().st_mtime_ns == done_at
    assert _report(out)["resolved"] == ["acme__calc-1", "acme__calc-2"]
    other = _eval(calc, eval_cache, out, "--model", "empty")
    assert other.returncode == 2 and "another model (gold)" in other.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)  # a first venv build fetches packages from the index
def test_a_worker_that_dies_is_retried(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    """The first worker for each instance is killed (SIGKILL) before it writes anything; the
    retry's result is the same as an undisturbed run's."""
    marker = tmp_path / "died"
    dying = tmp_path / "dying-worker.sh"
    dying.write_text(
        f"#!/bin/bash\nif mkdir {marker} 2>/dev/null; then kill -9 $$; fi\n"
        f"exec {sys.executable} -m autocodebase.evaluation.pipeline\n"
    )
    dying.chmod(0o755)
    out = tmp_path / "out"
    options = Options(
        model="gold", out=str(out), cache=str(eval_cache), repos=str(calc[0]), worker=(str(dying),)
    )
    seen: list[InstanceResult] = []
    record = json.loads(calc[1].read_text().splitlines()[0])
    run_local([record], options, 1, seen.append)
    assert marker.is_dir(), "the first worker died"
    assert [r.status for r in seen] == ["resolved"]
    assert "exit -9" in (out / "logs" / "acme__calc-1" / "worker.txt").read_text()
    assert load_results(out)["acme__calc-1"].status == "resolved"


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)  # a first venv build fetches packages from the index
def test_ray_gives_the_local_pools_results(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "out"
    done = _eval(calc, eval_cache, out, "--model", "gold", "--executor", "ray", "--workers", "2")
    assert done.returncode == 1, done.stderr[-3000:]
    report = _report(out)
    assert report["resolved"] == ["acme__calc-1", "acme__calc-2"]
    assert report["environment_error"] == ["acme__calc-3"]
    # Ray's workers are told to stop at ray.shutdown(); on a loaded machine their exit can
    # trail acb's by a moment (CI once saw two still there at the first look).
    deadline = time.monotonic() + 15
    while True:
        leftover = subprocess.run(["pgrep", "-f", "ray::"], capture_output=True, text=True).stdout
        if not leftover.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not leftover.strip(), "Ray's workers are stopped at the end"


FIX_ADD = """*** Begin Patch
*** Update File: calc/__init__.py
@@
 def add(a, b):
-    return a - b
+    return a + b
*** End Patch"""


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)
def test_acb_itself_solves_an_instance_and_is_graded(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    """The whole path with a model: `acb exec` in the instance's checkout (its venv first on
    PATH, in the sandbox), the scripted model's patch taken from the checkout, graded."""
    replies: list[Reply | Fault] = [
        Reply("", [("apply_patch", {"patch": FIX_ADD})]),
        Reply("Fixed: add() now adds."),
        *[Reply("fix: make add() add") for _ in range(3)],
    ]
    out = tmp_path / "out"
    with MockModelServer(replies) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        repos, dataset = calc
        where = ["--dataset", str(dataset), "--repos", str(repos), "--cache", str(eval_cache)]
        chosen = ["--instances", "acme__calc-1", "--model", "openai/mock-model"]
        args = [*where, *chosen, "--out", str(out), "--timeout-s", "300"]
        done = run_acb("eval", "swe-bench", *args, cwd=tmp_path, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = _report(out)["instances"]["acme__calc-1"]
    assert result["status"] == "resolved", result
    assert result["exit_status"] == "completed" and result["steps"] >= 2
    assert result["run_id"] and result["tokens"].get("input_tokens", 0) > 0
    patch = json.loads((out / "preds.jsonl").read_text())["model_patch"]
    assert "+    return a + b" in patch and ".acb-env" not in patch
    assert (out / "logs" / "acme__calc-1" / "agent.jsonl").is_file()


@pytest.mark.parametrize(
    "patch",
    [
        "diff --git a/.acb-env/bin/pytest b/.acb-env/bin/pytest\nnew file mode 120000\n",
        "--- a/.git/hooks/post-checkout\n+++ b/.git/hooks/post-checkout\n",
        "diff --git a/src/x.py b/src/../../x.py\n",
    ],
)
def test_a_candidate_patch_may_not_write_where_the_host_works(patch: str) -> None:
    """A symlink planted at .acb-env/bin/pytest would have the host's venv set-up write our
    script through it, outside the checkout."""
    assert touches_private(patch) is not None
    assert touches_private("diff --git a/src/git_tools.py b/src/git_tools.py\n") is None


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)
def test_an_environment_without_the_test_runner_is_not_graded_with_the_hosts(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    """The host has pytest (pyenv's shims on PATH): before, a venv without it ran the host's,
    on the host's packages, and a gold patch could come out resolved for the wrong reasons."""
    record = json.loads(calc[1].read_text().splitlines()[0])
    record["instance_id"] = "acme__calc-9"
    record["version"] = "0.9"
    record["environment"] = {**record["environment"], "pip_packages": []}
    dataset = tmp_path / "no-pytest.jsonl"
    dataset.write_text(json.dumps(record) + "\n")
    out = tmp_path / "out"
    where = ["--dataset", str(dataset), "--repos", str(calc[0]), "--cache", str(eval_cache)]
    done = run_acb(
        "eval", "swe-bench", *where, "--out", str(out), "--model", "gold", cwd=tmp_path, timeout=900
    )
    assert done.returncode == 1, done.stderr[-2000:]
    report = _report(out)
    assert report["environment_error"] == ["acme__calc-9"], report
    assert (
        "runs pytest, which is not in the environment"
        in report["instances"]["acme__calc-9"]["error"]
    )


QUOTED_GIT_CONFIG = r"""diff --git "a/\056git/config" "b/\056git/config"
--- "a/\056git/config"
+++ "b/\056git/config"
@@ -1,1 +1,2 @@
 [core]
+	worktree = /tmp
"""


def test_a_patch_naming_git_config_in_quotes_cannot_rewrite_it(tmp_path: Path) -> None:
    """GNU patch decodes C-quoted names that the path check did not: applied on the host, it
    rewrote .git/config (core.worktree), and the host's git then wrote and deleted files
    wherever that pointed. The apply commands now run in the sandbox, .git read-only."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "a")
    config = (repo / ".git" / "config").read_text()
    assert touches_private(QUOTED_GIT_CONFIG) is None, "the check alone misses it"
    assert not apply_candidate(repo, QUOTED_GIT_CONFIG, 30)
    assert (repo / ".git" / "config").read_text() == config
    assert not (repo / ".acb-env").exists()


def test_the_environments_interpreter_started_through_a_link_sees_its_packages(
    tmp_path: Path,
) -> None:
    """`tox --current-env` (sphinx's spec) runs the tests through .tox/ENV/bin/python, a link to
    the environment's interpreter, which Python does not take for the venv; the eval script's
    PYTHONPATH makes it see the environment's packages, as a conda prefix would be seen."""
    from autocodebase.evaluation.environments import (
        LINKED_SITE,
        Environment,
        make_overlay,
        site_packages,
    )

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = tmp_path / "base"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=True)
    (site_packages(base) / "acb_marker_package.py").write_text("WHERE = 'environment'\n")
    checkout = tmp_path / "checkout"
    (checkout / ".git" / "info").mkdir(parents=True)
    overlay = make_overlay(Environment("venv", base, version, {}), checkout)
    link = checkout / ".tox" / "py" / "bin" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(overlay / "bin" / "python")
    probe = ["-c", "import acb_marker_package as m; print(m.WHERE)"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    without = subprocess.run([str(link), *probe], env=env, capture_output=True, text=True)
    assert "No module named 'acb_marker_package'" in without.stderr  # the fault being mended
    with_site = {**env, "PYTHONPATH": str(overlay / LINKED_SITE)}
    linked = subprocess.run([str(link), *probe], env=with_site, capture_output=True, text=True)
    assert linked.stdout.strip() == "environment", linked.stderr
    # The venv's own interpreter is left as it is: the sitecustomize does nothing there.
    direct = subprocess.run(
        [str(overlay / "bin" / "python"), *probe], env=with_site, capture_output=True, text=True
    )
    assert direct.stdout.strip() == "environment", direct.stderr


def test_sandboxed_evaluation_commands_get_none_of_the_hosts_python_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autocodebase.evaluation.environments import evaluation_environment

    monkeypatch.setenv("PYTHONPATH", "/somewhere/acb/src")
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")
    monkeypatch.setenv("CONDA_PREFIX", "/opt/conda")
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    env = evaluation_environment(PIP_NO_INDEX="1")
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "OPENAI_API_KEY"} & set(env)
    assert env["PIP_INDEX_URL"] == "https://mirror.example/simple"  # how packages are found
    assert env["HOME"] == "/tmp" and env["PIP_NO_INDEX"] == "1"
    assert env["PATH"] == os.environ["PATH"]


@pytest.mark.slow
@pytest.mark.xdist_group("evaluation")  # one at a time: venv builds and Ray are heavy
@pytest.mark.timeout(900)
def test_the_graded_tests_get_the_network_only_when_asked(
    calc: tuple[Path, Path], eval_cache: Path, tmp_path: Path
) -> None:
    """A test that talks to a server (here one on this machine's loopback, as httpbin is for
    requests' tests) fails in grading unless --grading-network lets it through."""
    import socket
    import threading

    from tests.eval_instances import _new_file

    repos, dataset = calc
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.sendall(b"pong")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    first = json.loads(dataset.read_text().splitlines()[0])
    test = (
        "import socket\n\nfrom calc import add\n\n\ndef test_add_online():\n"
        f"    with socket.create_connection(('127.0.0.1', {port}), timeout=5) as s:\n"
        "        assert s.recv(4) == b'pong'\n    assert add(2, 3) == 5\n"
    )
    online = {
        **first,
        "instance_id": "acme__calc-4",
        "test_patch": _new_file(repos / "acme__calc", "tests/test_online.py", test),
        "FAIL_TO_PASS": json.dumps(["tests/test_online.py::test_add_online"]),
    }
    networked = tmp_path / "online.jsonl"
    networked.write_text(json.dumps(online) + "\n")
    statuses = {}
    try:
        for flags in ((), ("--grading-network",)):
            out = tmp_path / f"out{len(flags)}"
            where = ["--dataset", str(networked), "--repos", str(repos), "--cache", str(eval_cache)]
            done = run_acb(
                "eval",
                "swe-bench",
                *where,
                "--out",
                str(out),
                "--model",
                "gold",
                *flags,
                cwd=tmp_path,
                timeout=900,
            )
            statuses[flags] = _report(out)["instances"]["acme__calc-4"]["status"]
            assert done.returncode in (0, 1), done.stderr[-2000:]
    finally:
        listener.close()
    assert statuses == {(): "unresolved", ("--grading-network",): "resolved"}
