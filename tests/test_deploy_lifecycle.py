"""A deployment's life outside `acb deploy` itself, through the real CLI, without starting one:
asking about or stopping a project that never deployed gets one plain line ("nothing deployed
here"), not advice about a deploy.toml; the traffic record that lets `acb monitor` show a
stopped deployment is read defensively, since it lives in the workspace. (Deploying, stopping
and monitoring for real: tests/test_deploy.py.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from autocodebase.delivery.monitor import Report, render
from autocodebase.delivery.series import read_series, rewrite_series, series_path
from tests.conftest import git
from tests.helpers import run_acb


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A git repository with no `.acb/deploy.toml`: nothing was ever deployed here."""
    root = tmp_path / "bare"
    root.mkdir()
    git(root, "init", "-q")
    return root


def test_status_without_a_config_says_nothing_is_deployed(bare: Path) -> None:
    """Exit 0: the question was answered (scripts read `--json`'s `deployed`)."""
    done = run_acb("deploy", "--status", cwd=bare)
    assert (done.returncode, done.stdout, done.stderr) == (0, "nothing deployed here\n", "")
    report = json.loads(run_acb("deploy", "--status", "--json", cwd=bare).stdout)
    assert report["deployed"] is False and report["state"] == {} and report["history"] == []
    assert not (bare / ".acb").exists(), "asking creates nothing in the project"


def test_stop_without_a_config_has_nothing_to_stop(bare: Path) -> None:
    done = run_acb("deploy", "--stop", cwd=bare)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "nothing deployed here: nothing to stop\n" and done.stderr == ""
    report = json.loads(run_acb("deploy", "--stop", "--json", cwd=bare).stdout)
    assert report == {"stopped": False, "release": None}
    assert not (bare / ".acb").exists()


def test_monitor_without_a_deployment_is_one_line(bare: Path) -> None:
    done = run_acb("monitor", cwd=bare)
    assert done.returncode == 2 and "deploy.toml" not in done.stderr
    assert done.stderr == "acb: error: nothing deployed here (start with `acb deploy`)\n"


def test_the_traffic_record_keeps_six_hours_and_skips_what_acb_did_not_write(
    tmp_path: Path,
) -> None:
    """The record is in the workspace, where the project's commands write too: a line that is
    not four numbers is skipped, never trusted; seconds older than six hours are gone."""
    root = tmp_path / "ws"
    root.mkdir()
    now = int(time.time())
    rewrite_series(root, "default", [(now - 7 * 3600, 5, 0, 1.0), (now - 30, 4, 1, 12.5)])
    with series_path(root, "default").open("a") as sink:
        sink.write(f'garbage\n[1, 2]\n["x", 1, 0, 1.0]\n[{now - 20}, -1, 0, 1.0]\n')
        sink.write(f"[{now - 10}, 3, 0, 2]\n")
    assert read_series(root, "default") == [(now - 30, 4, 1, 12.5), (now - 10, 3, 0, 2.0)]
    assert read_series(root, "default", since=now - 15) == [(now - 10, 3, 0, 2.0)]
    assert read_series(root, "staging") == [], "no record is an empty one"


def test_the_two_request_counts_say_what_they_count() -> None:
    """The window's requests went through the proxy; the app's /metrics count everything it
    answered since it started (its health checks and acb's probes too), so they differ."""
    report = Report(60, requests=41, app={"app_requests": 72, "app_error_rate": 0.0})
    text = render(report, charts=False)
    assert "requests 41 through the proxy" in text
    assert (
        "app /metrics: 72 requests since it started (health checks and acb's probes included)"
        in text
    )


def test_the_model_diagnosis_is_retried_and_read_past_its_reasoning() -> None:
    from autocodebase.delivery.monitor import Report, model_diagnosis
    from autocodebase.models.base import Message, ModelError, Response, Usage
    from autocodebase.models.retry import RetryPolicy

    class BusyThenClear:
        name = "m/x"
        calls = 0

        def complete(self, messages: object, tools: object, on_text: object = None) -> Response:
            self.calls += 1
            if self.calls == 1:
                raise ModelError("HTTP 529: overloaded", retryable=True)
            text = "<think>look at the 5xx</think>\nAll healthy: no errors in the window."
            return Response(Message("assistant", text), Usage(input_tokens=5, output_tokens=9))

    report = Report(window_s=60)
    model = BusyThenClear()
    model_diagnosis(model, report, RetryPolicy(sleep=lambda s: None))  # type: ignore[arg-type]
    assert model.calls == 2
    assert report.diagnosis == "All healthy: no errors in the window."
    assert report.diagnosis_by == "model" and report.usage.output_tokens == 9


def test_an_anomaly_is_blamed_on_the_release_that_served_its_errors() -> None:
    """A ten-second bucket holds a bad release going live at :02, its errors, and the rollback
    at :06 that ends them: the release blamed is the bad one, not the rollback, which is the
    last live in the bucket (found by autopilot's scenario through `--window 10m`)."""
    from datetime import UTC, datetime

    from autocodebase.delivery.local import DeployConfig
    from autocodebase.delivery.monitor import Bucket, find_anomalies

    def at(second: int) -> str:
        return datetime.fromtimestamp(second, UTC).isoformat()

    good, bad, back = ({"sha": s * 40, "outcome": "live"} for s in "abc")
    releases = [{**good, "at": at(900)}, {**bad, "at": at(1002)}, {**back, "at": at(1006)}]
    series = [[1000 + s, 10, 5 if 2 <= s < 6 else 0, 20.0] for s in range(10)]
    bucket = Bucket(1000)
    bucket.requests, bucket.errors = 100, 20
    config = DeployConfig(command="python -m app --port {port}")
    (anomaly,) = find_anomalies([bucket, Bucket(1010)], config, releases, series)
    assert anomaly.release is not None and anomaly.release["sha"] == "b" * 40
    (unknown,) = find_anomalies([bucket, Bucket(1010)], config, releases)
    assert unknown.release is not None and unknown.release["sha"] == "c" * 40  # no seconds
