"""`make demo-autopilot`: `acb autopilot --deploy auto` on a fresh copy of examples/wordstats,
offline. Three queued tasks: one ships and is released; one passes its tests but fails under
traffic, is released, caught by the monitor, rolled back, and fixed by the fix task autopilot
queues; one fails verification and waits for a person.

The model's side of every run is scripted (tests/autopilot_scenario.py, served by the loopback
mock model server the tests use); everything else is real: the runs, sandbox, tests, review,
merges, the sandboxed release builds, the proxy, the monitor and the ledger. The demo's ledger
and state live in .demo/autopilot/acb-home, apart from yours.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scenario and the mock model server live beside the tests

from tests.autopilot_scenario import PER_RELEASE, REPLIES, TASKS, Traffic, deploy_toml  # noqa: E402
from tests.fakes.mock_server import MockModelServer  # noqa: E402

DEMO = ROOT / ".demo" / "autopilot"
WORK = DEMO / "wordstats"
HOME = DEMO / "acb-home"


def git(*args: str) -> None:
    subprocess.run(["git", "-C", str(WORK), *args], check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def acb(*args: str, env: dict[str, str]) -> int:
    print(f"\n$ acb {' '.join(args)}", flush=True)
    return subprocess.run(["acb", *args], env=env, check=False).returncode


def main() -> int:
    if DEMO.exists():
        subprocess.run(["acb", "deploy", "--stop", "-C", str(WORK)], env=_env(), check=False)
        shutil.rmtree(DEMO)
    ignored = shutil.ignore_patterns(".acb", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT / "examples" / "wordstats", WORK, ignore=ignored)
    git("init", "-q", "-b", "main")
    # The demo repository's own identity: acb commits as the human who runs it.
    git("config", "user.name", "Demo User")
    git("config", "user.email", "demo@example.invalid")
    port = free_port()
    (WORK / ".acb").mkdir()
    (WORK / ".acb" / "deploy.toml").write_text(deploy_toml(port))
    git("add", "-A")
    git("commit", "-qm", "wordstats as shipped, with its deploy config")
    git("switch", "-qc", "dev")  # you work on dev; autopilot merges into main
    for name, text in TASKS.items():
        (WORK / name).parent.mkdir(parents=True, exist_ok=True)
        (WORK / name).write_text(text)
    print("acb demo-autopilot: the model's side of every run is scripted (no model is called);")
    print("the runs, sandbox, tests, merges, releases, proxy, monitor and ledger are real.")
    print(f"queued in {WORK}/.acb/tasks: {', '.join(sorted(Path(n).stem for n in TASKS))}")
    print(f"clients: {PER_RELEASE} requests to each release autopilot watches, through :{port}")

    traffic = Traffic(HOME / "ledger.db", port)
    traffic.start()
    try:
        with MockModelServer(list(REPLIES)) as model:
            env = _env(OPENAI_API_KEY="sk-demo-0123456789abcdef", OPENAI_BASE_URL=model.url + "/v1")
            code = acb(
                "autopilot", "-C", str(WORK), "--once", "--merge", "auto", "--deploy", "auto",
                "--base", "main", "--watch", "600", "--watch-requests", str(PER_RELEASE),
                "-m", "openai/mock-model", env=env,
            )  # fmt: skip
    finally:
        traffic.done.set()
        traffic.join(timeout=60)
    print(f"(exit {code}: a task needs a person)")
    for sha, answers in traffic.answers.items():
        failed = sum(status != 200 for status in answers)
        print(f"clients of release {sha[:12]}: {len(answers)} requests, {failed} failed")
    env = _env()
    acb("autopilot", "-C", str(WORK), "status", env=env)
    acb("autopilot", "-C", str(WORK), "status", "fix-2-cache", env=env)
    acb("deploy", "--status", "-C", str(WORK), env=env)
    acb("monitor", "-C", str(WORK), "--window", "10m", env=env)
    acb("deploy", "--stop", "-C", str(WORK), env=env)
    print("\nwhat next")
    print(f"  - ACB_HOME={HOME} acb autopilot -C {WORK} status: the same story again")
    print("  - acb autopilot approve 3-shortest would merge that branch as it is: your call")
    print("  - docs/autopilot.md: the gates, deploy/watch/rollback/fix, cron and CI")
    return 0


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "ACB_HOME": str(HOME)}
    env.pop("OPENAI_BASE_URL", None)  # only the mock model server, never one of yours
    env.update(extra)
    return env


if __name__ == "__main__":
    sys.exit(main())
