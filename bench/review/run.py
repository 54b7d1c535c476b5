"""Static review gates: recall on injected flaws, false positives on real clean commits.

Injected set: each template below is a small function with one known flaw (SQL built by string
formatting, shell=True with input, weak password hashing, yaml.load, hard-coded keys, pickle of
untrusted data, eval, path traversal, SSRF-ish requests, disabled TLS checks, and plain bugs),
written in several variants and inserted into a real file from a real repository at a real
commit; the change is those inserted lines. A flaw counts as found when a finding lands on them.
Clean set: real commits from the same histories (changes to .py files, sampled with a fixed
seed), reviewed exactly like `acb review REV`.

Before any case, each measured gate must find its flaw in a canary file (bench/review/canary.py):
one that finds nothing is not running and is named as failed, since its missing findings would
read as flaws not found and clean commits not flagged. A case or a commit that cannot be
reviewed is named and left out of every count (bench/review/report.py). Either makes the command
exit 1 without writing, unless `--allow-missing` (bench/outcome.py).

Usage: python bench/review/run.py --repo DIR [--repo DIR ...] [--clean N] [--write]
       [--allow-missing]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parents[1]))

from autocodebase.quality.review.changes import ChangeSet, resolve
from autocodebase.quality.review.findings import RANK
from autocodebase.quality.review.static import static_review
from bench.outcome import add_allow_missing, conclude
from bench.review.canary import gates_not_running
from bench.review.report import Review, render

# category -> variants; {n} is replaced by a per-variant suffix so no two are identical.
TEMPLATES: dict[str, list[str]] = {
    "sql-injection": [
        "def find_user_{n}(cursor, name):\n    cursor.execute(f\"SELECT * FROM users WHERE name = '{{name}}'\")\n    return cursor.fetchall()\n",
        "def find_user_{n}(cursor, name):\n    cursor.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)\n    return cursor.fetchone()\n",
        'def delete_row_{n}(db, table, key):\n    query = "DELETE FROM " + table + " WHERE id = " + key\n    db.execute(query)\n',
        'def count_{n}(conn, column):\n    sql = "SELECT COUNT({{}}) FROM items".format(column)\n    return conn.execute(sql).fetchone()\n',
    ],
    "shell-injection": [
        'import subprocess\n\n\ndef archive_{n}(path):\n    return subprocess.call("tar czf out.tgz " + path, shell=True)\n',
        'import subprocess\n\n\ndef grep_{n}(pattern):\n    return subprocess.run(f"grep -r {{pattern}} .", shell=True, capture_output=True)\n',
        'import os\n\n\ndef ping_{n}(host):\n    os.system("ping -c 1 " + host)\n',
        "import subprocess\n\n\ndef run_{n}(cmd):\n    return subprocess.Popen(cmd, shell=True).wait()\n",
    ],
    "weak-password-hash": [
        "import hashlib\n\n\ndef hash_password_{n}(password):\n    return hashlib.md5(password.encode()).hexdigest()\n",
        "import hashlib\n\n\ndef hash_password_{n}(password):\n    return hashlib.sha1(password.encode()).hexdigest()\n",
        'import hashlib\n\n\ndef check_{n}(password, stored):\n    return hashlib.new("md5", password.encode()).hexdigest() == stored\n',
    ],
    "yaml-load": [
        "import yaml\n\n\ndef read_config_{n}(text):\n    return yaml.load(text)\n",
        "import yaml\n\n\ndef read_config_{n}(path):\n    with open(path) as handle:\n        return yaml.load(handle, Loader=yaml.Loader)\n",
    ],
    "hard-coded-secret": [
        'AWS_ACCESS_KEY_ID_{n} = "AKIAIOSFODNN7EXAMP{n}"\n',
        'def client_{n}():\n    password = "hunter2-{n}-Secr3t!"\n    return connect(user="admin", password=password)\n',
        'GITHUB_TOKEN_{n} = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q{n}R"\n',
        'PRIVATE_KEY_{n} = """-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7v{n}\n-----END RSA PRIVATE KEY-----"""\n',
    ],
    "unsafe-deserialisation": [
        "import pickle\n\n\ndef load_session_{n}(blob):\n    return pickle.loads(blob)\n",
        "import marshal\n\n\ndef load_code_{n}(blob):\n    return marshal.loads(blob)\n",
        "import shelve\n\n\ndef open_store_{n}(path):\n    return shelve.open(path)\n",
    ],
    "code-injection": [
        "def calculate_{n}(expression):\n    return eval(expression)\n",
        "def run_snippet_{n}(code):\n    exec(code)\n",
    ],
    "tls-disabled": [
        "import requests\n\n\ndef fetch_{n}(url):\n    return requests.get(url, verify=False, timeout=5)\n",
        "import ssl\n\n\ndef context_{n}():\n    return ssl._create_unverified_context()\n",
    ],
    "path-traversal": [
        "import os\n\n\ndef read_upload_{n}(base, name):\n    with open(os.path.join(base, name)) as handle:\n        return handle.read()\n",
        "import tarfile\n\n\ndef unpack_{n}(path, target):\n    with tarfile.open(path) as archive:\n        archive.extractall(target)\n",
        'import os\nfrom flask import request, send_file\n\n\ndef download_{n}():\n    name = request.args.get("file")\n    return send_file(os.path.join("/srv/uploads", name))\n',
        'from flask import request\n\n\ndef show_{n}():\n    with open("/srv/pages/" + request.args["page"]) as handle:\n        return handle.read()\n',
    ],
    "ssrf": [
        "import requests\n\n\ndef preview_{n}(url):\n    return requests.get(url).text\n",
        "import urllib.request\n\n\ndef preview_{n}(url):\n    return urllib.request.urlopen(url).read()\n",
        'import requests\nfrom flask import request\n\n\ndef proxy_{n}():\n    target = request.args.get("url")\n    return requests.get(target, timeout=5).content\n',
        'import urllib.request\nfrom flask import request\n\n\ndef fetch_{n}():\n    return urllib.request.urlopen(request.form["callback"], timeout=5).read()\n',
    ],
    "template-injection": [
        'from flask import render_template_string, request\n\n\ndef greet_{n}():\n    return render_template_string("<h1>Hi " + request.args.get("name", "") + "</h1>")\n',
        'import jinja2\nfrom flask import request\n\n\ndef render_{n}():\n    return jinja2.Template(request.form["template"]).render()\n',
    ],
    "open-redirect": [
        'from flask import redirect, request\n\n\ndef after_login_{n}():\n    return redirect(request.args.get("next", "/"))\n',
    ],
    "jwt-unverified": [
        'import jwt\n\n\ndef claims_{n}(token):\n    return jwt.decode(token, options={{"verify_signature": False}})\n',
    ],
    "copied-licence": [
        "# This program is free software: you can redistribute it and/or modify\n# it under the terms of the GNU General Public License as published by\n# the Free Software Foundation, either version 3 of the License, or\n# (at your option) any later version.\ndef helper_{n}():\n    return {n}\n",
    ],
    "insecure-temp-file": [
        'import tempfile\n\n\ndef scratch_{n}():\n    return open(tempfile.mktemp(), "w")\n',
    ],
    "bug": [
        "def total_{n}(items):\n    return sum(item.price for item in itmes)\n",
        "def append_{n}(item, bucket=[]):\n    bucket.append(item)\n    return bucket\n",
        'def check_{n}(value):\n    assert (value, "value must be set")\n    return value\n',
        "def compare_{n}(a, b):\n    return a == b == None\n",
    ],
}
VARIANTS_PER_TEMPLATE = 4


def injected_cases(
    repo: Path, count_per_template: int, seed: int
) -> list[tuple[str, str, str, str]]:
    """(category, host file path, host text, injected text) with real host files."""
    files = [
        f
        for f in subprocess.run(
            ["git", "-C", str(repo), "ls-files", "*.py"], capture_output=True, text=True, check=True
        ).stdout.split()
        if "test" not in f
    ]
    pick = random.Random(seed)
    cases = []
    for category, templates in TEMPLATES.items():
        for index, template in enumerate(templates):
            for variant in range(count_per_template):
                host = pick.choice(files)
                text = (repo / host).read_text(errors="replace")
                cases.append((category, host, text, template.format(n=f"{index}{variant}")))
    return cases


def review_injected(host: str, text: str, injected: str, scratch: Path) -> tuple[bool, bool]:
    """(found at any severity, found at high) on the injected lines."""
    at = len(text.rstrip("\n").splitlines())
    new = text.rstrip("\n") + "\n\n\n" + injected
    target = scratch / host
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(new)
    added = set(range(at + 3, at + 3 + len(injected.splitlines())))
    review = static_review(ChangeSet("injected", scratch, {host: added}))
    target.unlink()
    if review.failed:  # a gate that did not look cannot be scored as having missed
        raise RuntimeError("; ".join(review.failed))
    findings = review.findings
    return bool(findings), any(RANK[f.severity] >= RANK["high"] for f in findings)


def clean_commits(repo: Path, count: int, seed: int) -> list[str]:
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--no-merges", "-n", "1500", "--format=%H", "--", "*.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    random.Random(seed).shuffle(log)
    return log[:count]


def semgrep_version() -> str:
    semgrep = Path(sys.executable).parent / "semgrep"
    if not semgrep.exists():
        return "(not installed)"
    done = subprocess.run(
        [str(semgrep), "--version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0"},
    )
    return done.stdout.strip() or "(not installed)"


def review_all(repos: list[Path], clean: int, seed: int) -> Review:
    """Every case and commit; what cannot be reviewed is recorded with why, never counted."""
    review = Review()
    with tempfile.TemporaryDirectory(prefix="acb-review-bench-") as scratch:
        review.gate_failures = gates_not_running(Path(scratch))
        for category, host, text, injected in injected_cases(repos[0], VARIANTS_PER_TEMPLATE, seed):
            try:
                found = review_injected(host, text, injected, Path(scratch))
            except Exception as error:  # a case that cannot be reviewed is not "not found"
                review.injected_failures[category].append(
                    f"{host}: {type(error).__name__}: {error}"
                )
                continue
            review.per_category[category].append(found)
    for repo in repos:
        for sha in clean_commits(repo, clean, seed):
            with tempfile.TemporaryDirectory(prefix="acb-review-clean-") as scratch:
                try:
                    changes = resolve(repo, sha, False, Path(scratch))
                    if not changes.lines:
                        continue
                    review_of_commit = static_review(changes, honour_suppressions=True)
                    if review_of_commit.failed:
                        raise RuntimeError("; ".join(review_of_commit.failed))
                    findings = review_of_commit.findings
                except Exception as error:  # not reviewed is not clean
                    review.clean_failures.append(
                        f"{repo.name}@{sha[:10]}: {type(error).__name__}: {error}"
                    )
                    continue
            review.clean_total += 1
            review.clean_any += bool(findings)
            review.clean_high += any(f.severity == "high" for f in findings)
            for f in findings:
                review.flagged[f"{f.tool} {f.rule} ({f.severity})"] += 1
    return review


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repo", type=Path, action="append", required=True)
    parser.add_argument("--clean", type=int, default=40, help="clean commits per repository")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--write", action="store_true")
    add_allow_missing(parser)
    args = parser.parse_args(argv)
    review = review_all(args.repo, args.clean, args.seed)
    section = render(
        review,
        TEMPLATES,
        VARIANTS_PER_TEMPLATE,
        args.repo[0].name,
        [r.name for r in args.repo],
        args.clean,
        semgrep_version(),
    )
    results = [r for v in review.per_category.values() for r in v]
    summary = {
        "injected": len(results),
        "found_any": sum(a for a, _ in results),
        "found_high": sum(h for _, h in results),
        "clean": review.clean_total,
        "clean_any": review.clean_any,
        "clean_high": review.clean_high,
    }
    print(json.dumps(summary), file=sys.stderr)
    missing = review.missing(list(TEMPLATES))
    return conclude(section, "## Review gates", args.write, missing, args.allow_missing, "part")


if __name__ == "__main__":
    raise SystemExit(main())
