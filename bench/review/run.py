"""Static review gates: recall on injected flaws, false positives on real clean commits.

Injected set: each template below is a small function with one known flaw (SQL built by string
formatting, shell=True with input, weak password hashing, yaml.load, hard-coded keys, pickle of
untrusted data, eval, path traversal, SSRF-ish requests, disabled TLS checks, and plain bugs),
written in several variants and inserted into a real file from a real repository at a real
commit; the change is those inserted lines. A flaw counts as found when a finding lands on them.
Clean set: real commits from the same histories (changes to .py files, sampled with a fixed
seed), reviewed exactly like `acb review REV`.

Usage: python bench/review/run.py --repo DIR [--repo DIR ...] [--clean N] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
sys.path.insert(0, str(HERE.parent))

from report import write_section

from autocodebase.quality.review.changes import ChangeSet, resolve
from autocodebase.quality.review.findings import RANK
from autocodebase.quality.review.static import static_review

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
READING = """every injected flaw is seen; what blocks by default is narrower by design.
Below high: {below}. By design, a URL or file name that arrives as a plain function parameter
is medium or low (acb cannot know it is user input: `requests.get(url)` is ordinary code), while
the same flow from `flask.request`/Django/Starlette request data is high (semgrep taint rules);
open redirects, insecure temp files and a missing-timeout request are medium; so are most
plain bugs (ruff). One request-sourced SSRF variant lands in a flask module that binds its own
`request`, which the taint rule then does not trace. On clean commits the findings are mostly
medium (ruff B904, foreign copyright lines that quote other projects' notices); the blocked ones
come from undefined names ruff cannot resolve in isolation (F821) and private keys committed as
test fixtures. Skipping `assert` notes in test files and the semgrep rules cut clean commits
with any finding from 38% to the figure above, with no loss of recall."""


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
    findings = static_review(ChangeSet("injected", scratch, {host: added}))
    target.unlink()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, action="append", required=True)
    parser.add_argument("--clean", type=int, default=40, help="clean commits per repository")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    per_category: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    host_repo = args.repo[0]
    with tempfile.TemporaryDirectory(prefix="acb-review-bench-") as scratch:
        for category, host, text, injected in injected_cases(
            host_repo, VARIANTS_PER_TEMPLATE, args.seed
        ):
            per_category[category].append(review_injected(host, text, injected, Path(scratch)))
    clean_any = clean_high = clean_total = 0
    flagged: dict[str, int] = defaultdict(int)
    for repo in args.repo:
        for sha in clean_commits(repo, args.clean, args.seed):
            with tempfile.TemporaryDirectory(prefix="acb-review-clean-") as scratch:
                changes = resolve(repo, sha, False, Path(scratch))
                if not changes.lines:
                    continue
                findings = static_review(changes)
            clean_total += 1
            clean_any += bool(findings)
            high = [f for f in findings if f.severity == "high"]
            clean_high += bool(high)
            for f in findings:
                flagged[f"{f.tool} {f.rule} ({f.severity})"] += 1
    injected_total = sum(len(v) for v in per_category.values())
    found_any = sum(a for v in per_category.values() for a, _ in v)
    found_high = sum(h for v in per_category.values() for _, h in v)
    rows = [
        f"| {c} | {len(v)} | {sum(a for a, _ in v)} ({sum(a for a, _ in v) / len(v):.0%}) | {sum(h for _, h in v)} ({sum(h for _, h in v) / len(v):.0%}) |"
        for c, v in per_category.items()
    ]
    top = sorted(flagged.items(), key=lambda kv: -kv[1])[:8]
    semgrep_version = (
        subprocess.run(
            [str(Path(sys.executable).parent / "semgrep"), "--version"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0"},
        ).stdout.strip()
        or "(not installed)"
    )
    below = [
        f"{c} {sum(h for _, h in v)}/{len(v)}"
        for c, v in per_category.items()
        if sum(h for _, h in v) < len(v)
    ]
    reading = READING.format(below="; ".join(below) or "none")
    cpu = subprocess.run(
        ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    section = f"""## Review gates (static)

Machine: {cpu}, Python {platform.python_version()}; {date.today().isoformat()}. Method:
`python bench/review/run.py` (see its docstring and bench/README.md); every static gate exactly
as `acb review` runs them (ruff, bandit, semgrep {semgrep_version} with acb's rules, detect-secrets,
licence check; shellcheck and the workflow checks see no files here), findings kept only on the
changed lines. No model pass: no live model is reachable here, so no recorded model review exists;
the scripted demo cassette is a functional test, not a measurement.

Injected flaws: {injected_total} diffs ({len(TEMPLATES)} categories, {sum(len(t) for t in TEMPLATES.values())} templates × {VARIANTS_PER_TEMPLATE} variants, each
inserted into a real file of {host_repo.name}). Found (any severity): **{found_any}/{injected_total} ({found_any / injected_total:.0%})**;
found at high severity (what blocks a commit by default): {found_high}/{injected_total} ({found_high / injected_total:.0%}).

| category | diffs | found (any) | found (high) |
|---|---|---|---|
{chr(10).join(rows)}

Clean diffs: {clean_total} real commits touching .py files ({", ".join(r.name for r in args.repo)}, {args.clean} sampled per
repository). With any finding: **{clean_any} ({clean_any / max(clean_total, 1):.0%})**; with a high finding (a blocked
commit): **{clean_high} ({clean_high / max(clean_total, 1):.0%})**. Most frequent findings on clean commits:
{"; ".join(f"{k} ×{v}" for k, v in top) or "none"}.

Reading: {reading}
"""
    print(section)
    print(
        json.dumps(
            {
                "injected": injected_total,
                "found_any": found_any,
                "found_high": found_high,
                "clean": clean_total,
                "clean_any": clean_any,
                "clean_high": clean_high,
            }
        ),
        file=sys.stderr,
    )
    if args.write:
        write_section("## Review gates", section)


if __name__ == "__main__":
    main()
