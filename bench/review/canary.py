"""Is each review gate really running? One file with a flaw for each gate it measures.

A gate that is not installed, or broken, finds nothing, silently: without this check its
absence would read as injected flaws not found and clean commits not flagged (a better false
positive rate for a gate that never ran).
"""

from __future__ import annotations

import sys
from pathlib import Path

from autocodebase.quality.review import semgrep as semgrep_gate
from autocodebase.quality.review.changes import ChangeSet
from autocodebase.quality.review.static import static_review

GATES_MEASURED = ("ruff", "bandit", "semgrep", "detect-secrets", "licence")
"""The gates the benchmark is about; shellcheck and the workflow checks see no file here."""

CANARY = """\
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
import subprocess

import requests
from flask import request

GITHUB_TOKEN = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def archive(path):
    return subprocess.call("tar czf out.tgz " + path, shell=True)


def proxy():
    return requests.get(request.args.get("url"), timeout=5).content


def total(items):
    return sum(item.price for item in itmes)
"""
"""A copied GPL notice (licence), a token (detect-secrets), shell=True with input (bandit), a
request-sourced URL (semgrep's taint rule), an undefined name (ruff)."""


def gates_not_running(scratch: Path) -> dict[str, str]:
    """The measured gates that find nothing in the canary, and why as far as can be told."""
    target = scratch / "canary.py"
    target.write_text(CANARY)
    lines = set(range(1, len(CANARY.splitlines()) + 1))
    try:
        review = static_review(ChangeSet("canary", scratch, {"canary.py": lines}))
    except Exception as error:  # the whole review failing is every gate failing
        return dict.fromkeys(GATES_MEASURED, f"the review raised {type(error).__name__}: {error}")
    finally:
        target.unlink()
    found = {f.tool for f in review.findings}
    failed = {why.split(" ", 1)[0]: why for why in review.failed}
    reasons = {}
    for gate in GATES_MEASURED:
        if gate in failed:
            reasons[gate] = failed[gate]
        elif gate not in found:
            reasons[gate] = (gate == "semgrep" and semgrep_gate.unavailable()) or (
                f"{gate} found nothing in a canary with a flaw it must find (is it installed "
                f"for {sys.executable}?)"
            )
    return reasons
