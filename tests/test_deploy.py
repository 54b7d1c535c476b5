"""`acb deploy --target local` for real: the example's HTTP service released behind the proxy;
a release that fails its health check and one whose error rate jumps are both rolled back
while a client polling through the proxy the whole time sees no failed request; `--rollback`
puts the previous release back; history and status tell the story."""

from __future__ import annotations

import http.client
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocodebase.ledger.store import connect, releases
from tests.conftest import commit_all, git
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import free_port, run_acb

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wordstats"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    port = free_port()
    config = (root / ".acb/deploy.toml").read_text()
    config = config.replace("port = 8765", f"port = {port}\nhealth_timeout_s = 5")
    (root / ".acb/deploy.toml").write_text(config.replace("port = 8766", f"port = {free_port()}"))
    commit_all(root, "v1", init=True)
    yield root, port
    run_acb("deploy", "--stop", cwd=root)
    run_acb("deploy", "--stop", "--env", "staging", cwd=root)


class Poller(threading.Thread):
    """A client asking through the proxy every 20 ms, counting every answer that is not a 200
    with the expected body."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.ok = 0
        self.failed: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/count?text=one+two")
                response = connection.getresponse()
                body = response.read()
                connection.close()
                if response.status == 200 and json.loads(body) == {"words": 2}:
                    self.ok += 1
                else:
                    self.failed.append(f"{response.status} {body[:80]!r}")
            except OSError as error:
                self.failed.append(repr(error))
            time.sleep(0.02)


def change(root: Path, old: str, new: str, message: str) -> None:
    path = root / "wordstats/service.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(root, "commit", "-qam", message)


def test_bad_releases_roll_back_without_a_failed_request(
    service: tuple[Path, int], isolated_home: Path
) -> None:
    root, port = service
    first = run_acb("deploy", cwd=root)
    assert first.returncode == 0, first.stderr
    assert f"is live on http://127.0.0.1:{port}" in first.stdout
    v1 = git(root, "rev-parse", "HEAD").strip()
    poller = Poller(port)
    poller.start()
    try:
        time.sleep(0.3)
        change(
            root,
            'return "200 OK", "text/plain", b"ok\\n"',
            'return "503 Service Unavailable", "text/plain", b"down\\n"',
            "v2: unhealthy",
        )
        unhealthy = run_acb("deploy", "--json", cwd=root)
        assert unhealthy.returncode == 1
        assert json.loads(unhealthy.stdout)["outcome"] == "rolled-back"
        assert "/healthz did not answer 200" in json.loads(unhealthy.stdout)["reason"]
        git(root, "revert", "--no-edit", "HEAD")
        change(
            root,
            'return "200 OK", "application/json", json.dumps',
            'return "500 Internal Server Error", "application/json", json.dumps',
            "v3: every answer a 500",
        )
        erroring = run_acb("deploy", "--json", cwd=root)
        assert erroring.returncode == 1
        report = json.loads(erroring.stdout)
        assert report["outcome"] == "rolled-back" and "error rate" in report["reason"]
        assert report["measured"]["mirrored"] > 0, "verified on mirrored client traffic"
        assert report["measured"]["app_error_rate"] > 0.5, "the app's own /metrics agree"
    finally:
        poller.done.set()
        poller.join()
    assert poller.failed == [] and poller.ok > 50
    status = json.loads(run_acb("deploy", "--status", "--json", cwd=root).stdout)
    assert status["state"]["active"]["sha"] == v1
    assert [h["outcome"] for h in status["history"]] == ["live", "rolled-back", "rolled-back"]
    connection = connect(isolated_home / "ledger.db")
    recorded = releases(connection, root)
    connection.close()
    assert [(r["outcome"], r["target"]) for r in recorded] == [
        ("live", "local"),
        ("rolled-back", "local"),
        ("rolled-back", "local"),
    ]
    assert "error rate" in recorded[2]["reason"] and recorded[2]["measured"]["mirrored"] > 0


def health(port: int) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().read()
    finally:
        connection.close()


def test_a_good_release_goes_live_and_rollback_restores_the_previous(
    service: tuple[Path, int],
) -> None:
    root, port = service
    assert run_acb("deploy", cwd=root).returncode == 0
    v1 = git(root, "rev-parse", "HEAD").strip()
    change(root, 'b"ok\\n"', 'b"ok v2\\n"', "v2: says its version")
    assert run_acb("deploy", cwd=root).returncode == 0
    assert health(port) == b"ok v2\n"
    back = run_acb("deploy", "--rollback", "--json", cwd=root)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["sha"] == v1
    assert health(port) == b"ok\n"
    assert (root / f".acb/releases/{v1}/.venv/bin/python").exists()
    assert git(root, "status", "--porcelain") == "", "releases and state stay out of git"


def test_deploy_without_config_is_one_line(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    done = run_acb("deploy", cwd=tmp_path)
    assert done.returncode == 2 and "no .acb/deploy.toml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_container_artefacts_pass_their_validators_and_broken_ones_do_not(tmp_path: Path) -> None:
    from autocodebase.delivery.artefacts import Artefacts, build, validate
    from autocodebase.delivery.local import load_config
    from autocodebase.delivery.plan import detect_plan

    plan = detect_plan(EXAMPLE)
    plan.services = ["postgres"]
    for target in ("compose", "kubernetes"):
        made = build(plan, load_config(EXAMPLE), EXAMPLE, target)
        assert made.problems == [], made.problems
    dockerfile = made.files["Dockerfile"]
    assert "USER 10001:10001" in dockerfile and "HEALTHCHECK" in dockerfile
    manifest = made.files["k8s/app.yaml"]
    assert "readinessProbe" in manifest and "limits" in manifest
    assert "readOnlyRootFilesystem: true" in manifest
    broken = Artefacts(
        files={
            "Dockerfile": "FROM python\nRUN pip install flask\n",
            "k8s/app.yaml": manifest.replace("replicas: 2", "replicaz: 2"),
            "compose.yaml": "services:\n  app:\n    imagez: x\n",
        }
    )
    validate(broken)
    joined = "\n".join(broken.problems)
    assert "DL3006" in joined, "untagged base image"
    assert "'replicaz' was unexpected" in joined
    assert "'imagez' was unexpected" in joined


def test_acb_deploy_writes_kubernetes_artefacts_once(service: tuple[Path, int]) -> None:
    root, _ = service
    done = run_acb("deploy", "--target", "kubernetes", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "written: Dockerfile, k8s/app.yaml" in done.stdout
    assert "validated k8s/app.yaml: kubernetes-validate --strict" in done.stdout
    again = run_acb("deploy", "--target", "kubernetes", cwd=root)
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_monitor_ties_a_late_failure_to_the_release_before_it(service: tuple[Path, int]) -> None:
    """A release that passes verification and starts failing later (after 500 requests):
    `acb monitor` charts it, flags the anomaly, names the release, and a model (over real
    HTTP, scripted) can put it in words."""
    root, port = service
    assert run_acb("deploy", cwd=root).returncode == 0
    poller = Poller(port)
    poller.start()
    try:
        time.sleep(0.5)
        change(
            root,
            '    if path == "/count":\n',
            '    if path == "/count" and METRICS.total > 500:\n'
            '        return "500 Internal Server Error", "text/plain", b"worn out\\n"\n'
            '    if path == "/count":\n',
            "v2: fails after 500 requests",
        )
        v2 = git(root, "rev-parse", "HEAD").strip()
        assert run_acb("deploy", cwd=root).returncode == 0, "it passes verification"
        deadline = time.monotonic() + 30
        while len(poller.failed) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        poller.done.set()
        poller.join()
    done = run_acb("monitor", "--window", "2m", "--json", cwd=root)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] >= 20 and report["anomalies"]
    assert report["anomalies"][-1]["release"]["sha"] == v2
    assert f"after release {v2[:12]} went live" in report["diagnosis"]
    assert "--rollback" not in report["diagnosis"]  # autopilot quotes it after rolling back
    text = run_acb("monitor", "--window", "2m", cwd=root).stdout
    assert "(acb deploy --rollback puts the previous release back)" in text
    assert "errors   " in text and any(bar in text for bar in "▂▃▄▅▆▇█")
    assert " through the proxy, errors " in text, "the window's requests say what they count"
    assert "requests since it started (health checks and acb's probes included)" in text
    with MockModelServer([Reply("The release went bad after about 500 requests.")]) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        command = ["monitor", "--window", "2m", "--json", "-m", "openai/mock-model"]
        talked = run_acb(*command, cwd=root, env=env)
    assert json.loads(talked.stdout)["diagnosis_by"] == "model"
    assert v2[:12] in server.requests[0].body["messages"][-1]["content"]


def test_environments_have_their_own_proxy_and_history(service: tuple[Path, int]) -> None:
    root, port = service
    staged = run_acb("deploy", "--env", "staging", "--json", cwd=root)
    assert staged.returncode == 0, staged.stderr
    status = json.loads(
        run_acb("deploy", "--env", "staging", "--status", "--json", cwd=root).stdout
    )
    assert status["proxy"] != port and status["state"]["active"]["sha"]
    default = json.loads(run_acb("deploy", "--status", "--json", cwd=root).stdout)
    assert default["state"] == {} and default["history"] == []
    missing = run_acb("deploy", "--env", "prod", cwd=root)
    assert (
        missing.returncode == 2
        and "no [env.prod] (environments: onprem, staging)" in missing.stderr
    )


def through_proxy(port: int, times: int) -> None:
    for _ in range(times):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/count?text=a+b")
            assert connection.getresponse().read() == b'{"words": 2}'
        finally:
            connection.close()


def test_stop_is_history_and_monitor_keeps_the_window(
    service: tuple[Path, int], isolated_home: Path
) -> None:
    """`--stop` is recorded (history, status, ledger) instead of leaving the release "live";
    `acb monitor` still shows the window afterwards from the record kept on disk, says the
    deployment is stopped, and labels its two request counts; the next supervisor carries
    the record on."""
    root, port = service
    assert run_acb("deploy", cwd=root).returncode == 0
    v1 = git(root, "rev-parse", "HEAD").strip()
    through_proxy(port, 25)
    live = run_acb("monitor", "--window", "2m", cwd=root)
    assert live.returncode == 0, live.stderr
    assert "requests 25 through the proxy" in live.stdout, live.stdout
    assert "requests since it started (health checks and acb's probes included)" in live.stdout
    app_requests = json.loads(run_acb("monitor", "--json", cwd=root).stdout)["app"]
    assert app_requests["app_requests"] > 25, "the app also counted its health checks"

    stopped = run_acb("deploy", "--stop", cwd=root)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith(f"stopped: {v1[:12]} is no longer served")
    status = json.loads(run_acb("deploy", "--status", "--json", cwd=root).stdout)
    assert status["state"]["active"] is None and status["running"] is False
    assert [h["outcome"] for h in status["history"]] == ["live", "stopped"]
    text = run_acb("deploy", "--status", cwd=root).stdout
    assert text.startswith("live: nothing (stopped at ") and f"{v1[:12]}  stopped" in text
    again = run_acb("deploy", "--stop", cwd=root)
    assert (again.returncode, again.stdout) == (0, "nothing deployed here: nothing to stop\n")
    unchanged = json.loads(run_acb("deploy", "--status", "--json", cwd=root).stdout)
    assert unchanged["history"] == status["history"], "a second --stop records nothing"

    after = run_acb("monitor", "--window", "2m", cwd=root)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("the deployment is stopped since "), after.stdout
    assert "requests 25 through the proxy" in after.stdout and "app /metrics" not in after.stdout
    report = json.loads(run_acb("monitor", "--window", "2m", "--json", cwd=root).stdout)
    assert (report["running"], report["requests"], report["app"]) == (False, 25, {})
    assert report["stopped_at"] == status["history"][-1]["at"]
    connection = connect(isolated_home / "ledger.db")
    recorded = releases(connection, root)
    connection.close()
    assert [(r["sha"], r["outcome"]) for r in recorded] == [(v1, "live"), (v1, "stopped")]

    assert run_acb("deploy", cwd=root).returncode == 0
    through_proxy(port, 5)
    resumed = json.loads(run_acb("monitor", "--window", "5m", "--json", cwd=root).stdout)
    assert resumed["running"] is True and resumed["requests"] == 30, "the record carried on"
    assert git(root, "status", "--porcelain") == "", "the record stays out of git"
