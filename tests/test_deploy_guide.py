"""`acb deploy --docs`: the deployment guide for the example project's environments (local and
compose), built from acb's facts; secrets by name only; no guide when an artefact or a command
would fail its check; a stale guide is told; and (slow) the local commands, taken from the
written guide, run as a reader would run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autocodebase.delivery.artefacts import compose, dockerfile
from autocodebase.delivery.guide import Command, commands_in
from autocodebase.delivery.guide_commands import Known, command_problem
from autocodebase.delivery.local import DeployError, load_config
from autocodebase.delivery.plan import detect_plan
from autocodebase.delivery.release import release_environment
from tests.conftest import commit_all, git
from tests.helpers import free_port, run_acb

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wordstats"
SECRET_VALUE = "s3cr3t-value-never-written-7f3a"


def example(tmp_path: Path, extra: str = "") -> Path:
    """The example project with free ports (and `extra` appended to its deploy.toml),
    committed, with the compose environment's artefacts as `acb deploy --env onprem` writes
    them (unvalidated here: `--docs` validates them)."""
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    config_path = root / ".acb/deploy.toml"
    text = config_path.read_text().replace("port = 8765", f"port = {free_port()}")
    text = text.replace("port = 8766", f"port = {free_port()}")
    config_path.write_text(
        text.replace("verify_s = 3", "verify_s = 1\nhealth_timeout_s = 10") + extra
    )
    onprem = load_config(root, "onprem")
    plan = detect_plan(root)
    (root / "Dockerfile").write_text(dockerfile(plan, onprem, root))
    (root / "compose.yaml").write_text(compose(plan, onprem))
    commit_all(root, "v1", init=True)
    return root


def test_targets_and_secrets_per_environment(tmp_path: Path) -> None:
    """A config without `target` means local, as before; a bad target or secret is one line."""
    acb = tmp_path / ".acb"
    acb.mkdir()
    path = acb / "deploy.toml"
    path.write_text(
        'command = "x {port}"\n[env.box]\ntarget = "compose"\nsecrets = ["API_TOKEN"]\n'
    )
    assert load_config(tmp_path).target == "local"
    box = load_config(tmp_path, "box")
    assert (box.target, box.secrets) == ("compose", ("API_TOKEN",))
    path.write_text('command = "x {port}"\n[env.prod]\ntarget = "nomad"\n')
    with pytest.raises(DeployError) as bad:
        load_config(tmp_path, "prod")
    assert str(bad.value) == (
        ".acb/deploy.toml: [env.prod] target must be one of local, compose, kubernetes, not 'nomad'"
    )
    path.write_text('command = "x {port}"\nsecrets = ["NOT A NAME"]\n')
    with pytest.raises(DeployError, match="secrets must be a list of environment variable names"):
        load_config(tmp_path)


def test_a_release_gets_the_secrets_deploy_toml_names_and_no_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_API_TOKEN", SECRET_VALUE)
    monkeypatch.setenv("OTHER_API_TOKEN", "not-for-the-app")
    env = release_environment(tmp_path, 8000, ("APP_API_TOKEN",))
    assert env["APP_API_TOKEN"] == SECRET_VALUE and "OTHER_API_TOKEN" not in env


@pytest.mark.slow  # validates the artefacts several times through the CLI
def test_the_guide_for_local_and_compose_with_secrets_by_name_only(tmp_path: Path) -> None:
    root = example(tmp_path, '\nsecrets = ["WORDSTATS_API_TOKEN"]\n')
    done = run_acb("deploy", "--docs", cwd=root, env={"WORDSTATS_API_TOKEN": SECRET_VALUE})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "written: docs/deploy.md for default (local), staging (local), onprem (compose);"
    )
    text = (root / "docs/deploy.md").read_text()
    assert "WORDSTATS_API_TOKEN" in text and SECRET_VALUE not in text
    assert SECRET_VALUE not in (root / "compose.yaml").read_text()
    port = load_config(root).port
    assert commands_in(text, "default") == {
        "build and release": ["acb deploy"],
        "health": ["acb deploy --status", f"curl -fsS http://127.0.0.1:{port}/healthz"],
        "rollback": ["acb deploy --rollback"],
        "watch": ["acb monitor --window 15m"],
        "stop": ["acb deploy --stop"],
    }
    assert commands_in(text, "staging")["stop"] == ["acb deploy --env staging --stop"]
    onprem = commands_in(text, "onprem")
    assert onprem["release"] == ["docker compose -f compose.yaml up -d --wait"]
    assert onprem["health"][1] == "curl -fsS http://127.0.0.1:8080/healthz"
    assert onprem["rollback"][0] == 'git switch --detach "$PREVIOUS"'
    digest = json.loads(run_acb("deploy", "--docs", "--env", "onprem", "--json", cwd=root).stdout)
    assert set(digest["sources"]) == {".acb/deploy.toml", "Dockerfile", "compose.yaml"}
    assert f"`{digest['sources']['compose.yaml'][:16]}`" in text, "artefacts with their sha256"
    assert "| `WORDSTATS_API_TOKEN` | secret |" in text
    assert "error rate at most 2.0%, p95 latency at most 1000 ms" in text

    assert run_acb("deploy", "--docs", cwd=root).returncode == 0
    assert (root / "docs/deploy.md").read_text() == text, "the same facts, the same bytes"
    current = run_acb("deploy", "--docs", "--check", cwd=root)
    assert (current.returncode, current.stdout) == (0, "docs/deploy.md is current\n")
    compose_file = root / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("retries: 3", "retries: 5"))
    stale = run_acb("deploy", "--docs", "--check", cwd=root)
    assert stale.returncode == 1
    assert stale.stderr == (
        "docs/deploy.md is stale: compose.yaml changed since it was written "
        "(acb deploy --docs rewrites it)\n"
    )
    config = root / ".acb/deploy.toml"
    config.write_text(config.read_text().replace("port = 8080", "port = 8081"))
    rewritten = run_acb("deploy", "--env", "onprem", "--overwrite", cwd=root)
    assert rewritten.returncode == 0, rewritten.stderr
    assert rewritten.stderr == (
        "acb: warning: docs/deploy.md is stale: .acb/deploy.toml changed, compose.yaml changed "
        "since it was written (acb deploy --docs rewrites it)\n"
    ), "every acb deploy tells"


def test_no_guide_when_an_artefact_fails_validation(tmp_path: Path) -> None:
    root = example(tmp_path)
    (root / "compose.yaml").write_text("services:\n  app:\n    imagez: x\n")
    done = run_acb("deploy", "--docs", cwd=root)
    assert done.returncode == 2 and not (root / "docs/deploy.md").exists()
    assert done.stderr.startswith("acb: error: not written: compose.yaml: ")
    assert "(validation failed)" in done.stderr and len(done.stderr.splitlines()) == 1
    (root / "compose.yaml").unlink()
    missing = run_acb("deploy", "--docs", "--env", "onprem", cwd=root)
    assert missing.stderr == (
        "acb: error: compose.yaml is missing: `acb deploy --env onprem` writes it\n"
    )


@pytest.mark.slow  # validates the artefacts several times through the CLI
def test_no_guide_when_a_command_would_fail(tmp_path: Path) -> None:
    """compose.yaml publishes another port than deploy.toml says: the guide's health check
    would fail, so nothing is written."""
    root = example(tmp_path)
    compose_file = root / "compose.yaml"
    compose_file.write_text(compose_file.read_text().replace("127.0.0.1:8080:", "127.0.0.1:9090:"))
    done = run_acb("deploy", "--docs", cwd=root)
    assert done.returncode == 2 and not (root / "docs/deploy.md").exists()
    assert done.stderr == (
        "acb: error: not written: [onprem] `curl -fsS http://127.0.0.1:8080/healthz`: nothing "
        "acb configured listens on port 8080\n"
    )


def test_a_changed_or_missing_source_makes_the_guide_stale(tmp_path: Path) -> None:
    """The local environment's guide (no validators: quick), written, then its sources
    changed under it."""
    from autocodebase.cli.deploy_docs import acb_argv_problem
    from autocodebase.delivery.guide import GUIDE_PATH, render
    from autocodebase.delivery.guide_build import build_guide
    from autocodebase.delivery.guide_check import stale_reasons

    root = example(tmp_path)
    guide = build_guide(root, ["default"], acb_argv_problem)
    assert list(guide.sources) == [".acb/deploy.toml"], "a local environment has no artefacts"
    (root / "docs").mkdir()
    (root / GUIDE_PATH).write_text(render(guide))
    assert render(guide) == render(build_guide(root, ["default"], acb_argv_problem))
    assert stale_reasons(root) == []
    config = root / ".acb/deploy.toml"
    config.write_text(config.read_text() + "\n[env.qa]\n")
    assert stale_reasons(root) == [".acb/deploy.toml changed"]
    text = (root / GUIDE_PATH).read_text()
    marker = json.dumps({"Dockerfile": "0" * 64})[1:-1]
    (root / GUIDE_PATH).write_text(text.replace('"sources": {', '"sources": {' + marker + ", "))
    (root / "Dockerfile").unlink()
    assert stale_reasons(root) == [".acb/deploy.toml changed", "Dockerfile is gone"]


def test_commands_are_checked_against_what_they_name() -> None:
    from autocodebase.cli.deploy_docs import acb_argv_problem

    known = Known(
        programs={"acb", "docker", "kubectl", "git"},
        validated={"compose.yaml", "k8s/app.yaml", "Dockerfile"},
        compose_services={"compose.yaml": {"app", "postgres"}},
        deployments={"ws"},
        pod_labels={"app=ws"},
        images={"ws:latest"},
    )

    def problem(*argv: str) -> str | None:
        return command_problem(Command("x", argv, "", ""), known, acb_argv_problem)

    assert problem("docker", "compose", "-f", "compose.yaml", "logs", "-f", "app") is None
    assert problem("docker", "compose", "-f", "compose.yaml", "logs", "web") == (
        "web is not a service in compose.yaml"
    )
    assert problem("docker", "compose", "-f", "other.yaml", "up") == (
        "other.yaml is not a validated compose file"
    )
    assert problem("docker", "compose", "-f", "compose.yaml", "up", "--force") == (
        "docker compose up does not take --force here"
    )
    assert problem("kubectl", "rollout", "undo", "deployment/ws") is None
    assert "Deployment" in str(problem("kubectl", "rollout", "undo", "deployment/web"))
    assert problem("docker", "build", "-t", "other:latest", ".") is not None
    assert problem("helm", "install", "x") == "helm is not among the prerequisites"
    assert problem("acb", "deploy", "--env", "x", "--status") is None
    assert "No such option" in str(problem("acb", "deploy", "--rollbak"))
    assert problem("acb", "launch") == "acb has no command 'launch'"


def test_docs_refuses_to_replace_a_guide_acb_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/deploy.md").write_text("# ours\n")
    git(tmp_path, "init", "-q")
    done = run_acb("deploy", "--docs", cwd=tmp_path)
    assert done.stderr == (
        "acb: error: docs/deploy.md exists and acb did not write it; pass --overwrite\n"
    )
    check = run_acb("deploy", "--docs", "--check", cwd=tmp_path)
    assert (
        check.returncode == 2 and "no docs/deploy.md written by acb deploy --docs" in check.stderr
    )
    several = run_acb("deploy", "--env", "a", "--env", "b", cwd=tmp_path)
    assert several.stderr == "acb: error: give one --env (several only with --docs)\n"


@pytest.mark.slow
def test_the_local_commands_of_the_written_guide_run(tmp_path: Path) -> None:
    """What a reader does with the guide: each local command, copied from docs/deploy.md, run
    by a shell in the project — release, a second release, health, rollback, watch, stop."""
    root = example(tmp_path)
    written = run_acb("deploy", "--docs", "--env", "default", cwd=root)
    assert written.returncode == 0, written.stderr
    phases = commands_in((root / "docs/deploy.md").read_text(), "default")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def run(phase: str) -> list[str]:
        outputs = []
        for line in phases[phase]:
            done = subprocess.run(
                ["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
            outputs.append(done.stdout)
        return outputs

    try:
        assert "is live on" in run("build and release")[0]
        v1 = git(root, "rev-parse", "HEAD").strip()
        service = root / "wordstats/service.py"
        service.write_text(service.read_text().replace('b"ok\\n"', 'b"ok v2\\n"'))
        git(root, "commit", "-qam", "v2: says its version")
        run("build and release")
        status, health = run("health")
        assert status.startswith("live: ") and health == "ok v2\n"
        run("rollback")
        assert run("health")[1] == "ok\n"
        assert (
            json.loads(run_acb("deploy", "--status", "--json", cwd=root).stdout)["state"]["active"][
                "sha"
            ]
            == v1
        )
        assert "requests" in run("watch")[0]
    finally:
        stopped = run("stop")
    assert stopped[0].startswith("stopped: ")
    assert run_acb("deploy", "--docs", "--check", cwd=root).returncode == 0, (
        "deploying is not a change"
    )


@pytest.mark.slow  # kubernetes-validate on the manifest
def test_the_kubernetes_part_reads_the_manifest(tmp_path: Path) -> None:
    from autocodebase.cli.deploy_docs import acb_argv_problem
    from autocodebase.delivery.artefacts import app_name, kubernetes, secret_name
    from autocodebase.delivery.guide import render
    from autocodebase.delivery.guide_build import build_guide

    extra = '\n[env.prod]\ntarget = "kubernetes"\nsecrets = ["WORDSTATS_API_TOKEN"]\n'
    root = example(tmp_path, extra)
    (root / "k8s").mkdir()
    (root / "k8s/app.yaml").write_text(kubernetes(load_config(root, "prod"), app_name(root)))
    guide = build_guide(root, ["prod"], acb_argv_problem)
    text = render(guide)
    phases = commands_in(text, "prod")
    assert phases["build"] == ["docker build -t ws:latest ."]
    assert phases["release"] == [
        "kubectl apply -f k8s/app.yaml",
        "kubectl rollout status deployment/ws --timeout=120s",
    ]
    assert phases["rollback"] == ["kubectl rollout undo deployment/ws"]
    assert f"| `WORDSTATS_API_TOKEN` | secret | the Secret `{secret_name('ws')}`" in text
    assert "readiness: `GET /healthz` every 5 s" in text
