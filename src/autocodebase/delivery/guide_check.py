"""Whether a written deployment guide still describes the project: the guide records the
sha256 of every file it was written from (deploy.toml and the artefacts); any of them changed
or gone makes it stale. `acb deploy --docs --check` asks, and so does every `acb deploy`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from autocodebase.delivery.guide import GUIDE_PATH, MARKER


def recorded_sources(text: str) -> dict[str, str] | None:
    """The sources a guide was written from, or None when the text is not acb's guide."""
    for line in text.splitlines()[:10]:
        if line.startswith(MARKER):
            try:
                sources = json.loads(line[len(MARKER) :]).get("sources")
            except (ValueError, AttributeError):
                return None
            if isinstance(sources, dict) and all(isinstance(v, str) for v in sources.values()):
                return {str(k): v for k, v in sources.items()}
            return None
    return None


def is_acb_guide(root: Path) -> bool:
    path = root / GUIDE_PATH
    return path.is_file() and recorded_sources(path.read_text(errors="replace")) is not None


def stale_reasons(root: Path) -> list[str]:
    """What changed since the guide was written, one phrase each ("compose.yaml changed");
    empty when it is current. A missing guide, or one acb did not write, is not stale."""
    path = root / GUIDE_PATH
    if not path.is_file():
        return []
    sources = recorded_sources(path.read_text(errors="replace"))
    reasons = []
    for name, digest in sorted((sources or {}).items()):
        source = root / name
        if not source.is_file():
            reasons.append(f"{name} is gone")
        elif hashlib.sha256(source.read_bytes()).hexdigest() != digest:
            reasons.append(f"{name} changed")
    return reasons


def stale_line(reasons: list[str]) -> str:
    """The one line that says so."""
    changed = ", ".join(reasons)
    return f"{GUIDE_PATH} is stale: {changed} since it was written (acb deploy --docs rewrites it)"
