"""acb eval's environments as of their era, and the two things of this machine that graded
SWE-bench's gold patches as unresolved: a cgroup v1 CPU weight read as a CPU count, and tests
that need a network grading does not have (issue 19)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from autocodebase.errors import UsageError
from autocodebase.evaluation.era import (
    SPECS_ERA,
    UploadDates,
    UploadDatesUnavailable,
    downgrades,
    era_of,
    exact_pins,
    parse_packages_before,
    pin_to_era,
)
from autocodebase.evaluation.grading import cpu_weight_folders, failed_for_network
from autocodebase.evaluation.locks import build_slot
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import SandboxPolicy
from autocodebase.sandbox.run import run_command


def _file(uploaded: str, requires: str = "", yanked: bool = False) -> dict[str, Any]:
    return {"upload_time_iso_8601": uploaded, "requires_python": requires, "yanked": yanked}


INDEX: dict[str, dict[str, list[dict[str, Any]]]] = {
    "docutils": {
        "0.20.1": [_file("2023-05-17T10:00:00.000000Z")],
        "0.21.2": [_file("2024-04-23T18:00:00.000000Z"), _file("2024-04-23T18:05:00Z")],
        "0.22rc1": [_file("2024-07-01T00:00:00Z")],
        "0.21.3": [_file("2024-06-01T00:00:00Z", yanked=True)],
        "0.23": [_file("2025-10-01T00:00:00Z")],
    },
    "jinja2": {
        "3.0.3": [_file("2021-11-09T00:00:00Z")],
        "3.1.4": [_file("2024-05-05T00:00:00Z", requires=">=3.10")],
        "3.1.6": [_file("2025-03-05T00:00:00Z")],
    },
    "tox": {"4.16.0": [_file("2024-07-02T00:00:00Z")], "4.30.0": [_file("2025-09-01T00:00:00Z")]},
    "brand-new": {"1.0": [_file("2025-01-01T00:00:00Z")]},
    "pip": {"24.0": [_file("2024-02-03T00:00:00Z")], "25.2": [_file("2025-07-30T00:00:00Z")]},
}


class _Index(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        name = self.path.strip("/").split("/")[0]
        type(self).asked.append(name)
        if name not in INDEX:
            self.send_error(404)
            return
        body = json.dumps({"info": {"name": name}, "releases": INDEX[name]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index() -> Iterator[str]:
    """A loopback server answering PyPI's JSON API (`/NAME/json`) from INDEX."""
    _Index.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


BEFORE = date(2024, 8, 1)


def test_newer_packages_get_the_newest_final_release_before_the_date(
    index: str, tmp_path: Path
) -> None:
    dates = UploadDates(tmp_path, index)
    installed = {"docutils": "0.23", "Jinja2": "3.1.6", "pip": "25.2", "calc": "0.1"}
    # docutils: not the yanked 0.21.3 nor the pre-release; Jinja2 3.1.4 needs Python 3.10;
    # pip is the venv's own; calc is not on the index (the project itself).
    assert downgrades(installed, BEFORE, "3.9.18", dates) == {
        "docutils": "0.21.2",
        "Jinja2": "3.0.3",
    }
    assert downgrades(installed, BEFORE, "3.11.7", dates)["Jinja2"] == "3.1.4"


def test_a_name_that_is_no_project_name_is_never_asked_for(index: str, tmp_path: Path) -> None:
    # A hostile checkout's build can name its distribution anything; as a cache file name,
    # "/etc/x" would have been written outside the cache.
    dates = UploadDates(tmp_path / "cache", index)
    installed = {"/etc/x": "1.0", "../docutils": "0.23", "docutils": "0.23"}
    assert downgrades(installed, BEFORE, "3.9.18", dates) == {"docutils": "0.21.2"}
    assert _Index.asked == ["docutils"]
    assert not Path("/etc/x.json").exists()


def test_what_the_spec_pins_and_what_has_no_earlier_release_stay(
    index: str, tmp_path: Path
) -> None:
    dates = UploadDates(tmp_path, index)
    installed = {"tox": "4.30.0", "brand-new": "1.0", "docutils": "0.21.2"}
    keep = exact_pins([["tox==4.30.0", "Jinja2>=3"]])
    assert keep == frozenset({"tox"})
    assert downgrades(installed, BEFORE, "3.9.18", dates, keep) == {}
    assert downgrades(installed, BEFORE, "3.9.18", dates) == {"tox": "4.16.0"}


def test_answers_are_cached_and_asked_again_for_a_version_they_lack(
    index: str, tmp_path: Path
) -> None:
    dates = UploadDates(tmp_path, index)
    dates.releases("docutils")
    dates.releases("docutils", must_have="0.23")
    assert _Index.asked == ["docutils"]
    dates.releases("docutils", must_have="0.24")  # released since the answer was cached
    assert _Index.asked == ["docutils", "docutils"]
    assert dates.releases("calc") is None
    dates.releases("calc", must_have="0.1")  # unknown to the index: not asked again
    assert _Index.asked.count("calc") == 1


def test_an_unreachable_index_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("autocodebase.evaluation.era.time.sleep", lambda _s: None)
    dates = UploadDates(tmp_path, "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(UploadDatesUnavailable, match=r"127\.0\.0\.1:9/docutils/json"):
        downgrades({"docutils": "0.23"}, BEFORE, "3.9.18", dates)


def test_downgrades_go_round_until_nothing_is_newer(index: str, tmp_path: Path) -> None:
    venv = {"docutils": "0.23", "pip": "25.2"}
    installs: list[list[str]] = []

    def install(pins: list[str]) -> None:
        installs.append(pins)
        for pin in pins:
            name, version = pin.split("==")
            venv[name] = version
        if "docutils==0.21.2" in pins:  # the older docutils brings a dependency of today
            venv["Jinja2"] = "3.1.6"

    pinned = pin_to_era(BEFORE, "3.9.18", UploadDates(tmp_path, index), lambda: dict(venv), install)
    assert installs == [["docutils==0.21.2"], ["Jinja2==3.0.3"]]
    assert pinned == {"docutils": "0.21.2", "Jinja2": "3.0.3"}
    assert venv == {"docutils": "0.21.2", "pip": "25.2", "Jinja2": "3.0.3"}


def test_the_date_an_instance_gets() -> None:
    assert parse_packages_before(None) == "default"
    assert parse_packages_before("none") is None
    assert parse_packages_before("2023-01-31") == date(2023, 1, 31)
    with pytest.raises(UsageError, match="--packages-before 'last year'"):
        parse_packages_before("last year")
    assert era_of({}, False, "2021-01-19T17:04:34Z") == SPECS_ERA
    assert era_of({}, False, "2025-02-01T00:00:00Z") == date(2025, 2, 1)
    assert era_of({}, False, "") == SPECS_ERA
    assert era_of({"python": "3.11"}, True, "2021-01-19T17:04:34Z") is None
    assert era_of({"packages_before": "2022-06-30"}, True, "") == date(2022, 6, 30)


def test_a_cpu_weight_without_quota_is_emptied_and_a_quota_is_kept(tmp_path: Path) -> None:
    cpu = tmp_path / "cpu"
    cpu.mkdir()
    assert cpu_weight_folders(cpu) == ()  # no controller files
    (cpu / "cpu.shares").write_text("1024\n")
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_weight_folders(cpu) == (cpu.resolve(),)
    (cpu / "cpu.cfs_quota_us").write_text("200000\n")  # a real limit: pylint reads it right
    assert cpu_weight_folders(cpu) == ()


@pytest.fixture
def system() -> Iterator[Path]:
    """A folder outside /tmp (which the sandbox replaces with its own)."""
    folder = Path(tempfile.mkdtemp(prefix="acb-emptied-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap unusable here")
def test_an_emptied_folder_shows_nothing_in_the_sandbox(tmp_path: Path, system: Path) -> None:
    (system / "cpu.shares").write_text("1024\n")
    work = tmp_path / "work"
    work.mkdir()
    command = f"ls -A {system} | wc -l; cat {system}/cpu.shares"
    shown = run_command(SandboxPolicy(), command, work, command_environment())
    assert shown.output.split() == ["1", "1024"], shown.output
    emptied = run_command(SandboxPolicy(emptied=(system,)), command, work, command_environment())
    assert emptied.output.split()[0] == "0", emptied.output
    assert "No such file" in emptied.output
    written = run_command(
        SandboxPolicy(emptied=(system,)), f"touch {system}/x", work, command_environment()
    )
    assert written.exit_code != 0 and not (system / "x").exists()


PYTEST_LOG = """\
=================================== FAILURES ===================================
____________________ RequestsTestCase.test_HTTP_200_OK_GET _____________________
    def test_HTTP_200_OK_GET(self):
>       r = requests.get(httpbin('get'))
E       requests.exceptions.ConnectionError: HTTPConnectionPool(host='httpbin.org', port=80): \
Max retries exceeded (Caused by NewConnectionError(': Failed to establish a new connection: \
[Errno -3] Temporary failure in name resolution'))
_____________________ TestTimeout.test_connect_timeout[timeout0] ______________________
E       requests.exceptions.ConnectionError: (Caused by NewConnectionError(\
'[Errno 101] Network is unreachable'))
________________________ RequestsTestCase.test_local ___________________________
E       requests.exceptions.ConnectionError: [Errno 111] Connection refused
__________________________ test_plain_assertion ________________________________
E       assert 1 == 2
=========================== short test summary info ============================
"""


def test_tests_failing_for_want_of_a_network_are_told_apart() -> None:
    failed = [
        "test_requests.py::RequestsTestCase::test_HTTP_200_OK_GET",
        "test_requests.py::TestTimeout::test_connect_timeout[timeout0]",
        "test_requests.py::RequestsTestCase::test_local",
        "test_requests.py::test_plain_assertion",
        "test_requests.py::test_never_reported",
    ]
    assert failed_for_network(PYTEST_LOG, failed) == failed[:2]
    assert failed_for_network(PYTEST_LOG, failed[2:]) == []


def test_builds_beyond_the_cap_wait_for_a_slot(tmp_path: Path) -> None:
    held = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with build_slot(tmp_path, 1) as number:
            order.append(f"first got {number}")
            held.set()
            release.wait(10)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(10)
    with build_slot(tmp_path, 2) as number:  # a second slot is free: no wait
        assert number == 1

    def second() -> None:
        with build_slot(tmp_path, 1) as number:
            order.append(f"second got {number}")

    waiting = threading.Thread(target=second)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and order == ["first got 0"]
    release.set()
    thread.join(10)
    waiting.join(10)
    assert order == ["first got 0", "first done", "second got 0"]
