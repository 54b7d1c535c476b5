"""The deployment guide `acb deploy --docs` writes (`docs/deploy.md` in the project), as data and
as Markdown.

The guide is a structured record of what acb knows and has checked — environments, programs,
artefacts with their sha256, commands per phase, setting and secret *names*, what verification
measures — rendered deterministically, so the same facts give the same bytes. Prose a model
may draft is only ever the introduction; every command and fact comes from this record
(`delivery.guide_facts` builds it), never from model text. The record's sources and their hashes
go in a marker at the top of the file, which `delivery.guide_check` reads to say when the
guide no longer matches the files it describes.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

GUIDE_PATH = "docs/deploy.md"
MARKER = "acb-deploy-guide:"
"""Starts the line of the header comment that holds the guide's sources (JSON)."""

_SHELL_VARIABLE = re.compile(r'^"\$[A-Z_][A-Z0-9_]*"$')


@dataclass(frozen=True)
class Command:
    """One command of the guide, kept as argv so it is checked and rendered, never parsed back
    out of text."""

    phase: str
    """The heading it goes under: build, release, health, rollback, watch, stop."""
    argv: tuple[str, ...]
    why: str
    """What it does, in one line."""
    checked: str
    """How acb checked it, in a few words."""

    @property
    def line(self) -> str:
        """The shell line: quoted as `shlex` would, except a `"$NAME"` word, which the reader's
        shell must expand (a value acb never writes down)."""
        return " ".join(w if _SHELL_VARIABLE.match(w) else shlex.quote(w) for w in self.argv)


@dataclass(frozen=True)
class Prerequisite:
    program: str
    version: str
    """What `PROGRAM --version` said where the guide was written, or "not found here"."""
    why: str


@dataclass(frozen=True)
class ArtefactFact:
    path: str
    sha256: str
    checked_by: tuple[str, ...]
    """The validators it passed when the guide was written."""


@dataclass(frozen=True)
class Setting:
    name: str
    source: str
    """Where the value comes from (acb, compose.yaml, the host's environment, a Secret)."""
    secret: bool = False


@dataclass
class EnvironmentGuide:
    name: str
    target: str
    summary: str
    """One sentence: where it runs and who serves it."""
    prerequisites: list[Prerequisite] = field(default_factory=list)
    artefacts: list[ArtefactFact] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    verification: list[str] = field(default_factory=list)

    @property
    def flag(self) -> str:
        return "" if self.name == "default" else f" --env {self.name}"


@dataclass
class Guide:
    environments: list[EnvironmentGuide]
    sources: dict[str, str]
    """Path (relative to the project) -> sha256 of every file the guide was written from."""
    intro: str = ""
    intro_by: str = "acb"
    """"acb" or the model that drafted the introduction."""

    def commands(self) -> list[tuple[str, Command]]:
        return [(env.name, c) for env in self.environments for c in env.commands]


DEFAULT_INTRO = (
    "This guide was written by `acb deploy --docs` from the project's `.acb/deploy.toml`, the "
    "artefacts acb generated and validated, and the programs it found. Each environment below "
    "says what it needs, the exact commands for every step, and what acb's verification "
    "measures. The commands are acb's: run by acb or validated against the artefacts when "
    "the guide was written; `acb deploy --docs --check` says when the files it describes "
    "have changed since."
)


def render(guide: Guide) -> str:
    """The Markdown text; the same guide always gives the same text."""
    header = json.dumps(
        {"environments": [e.name for e in guide.environments], "sources": guide.sources},
        sort_keys=True,
    )
    out = [
        "<!-- Written by `acb deploy --docs`; do not edit by hand: change the project and run it",
        "again. `acb deploy --docs --check` says when this guide is stale.",
        f"{MARKER} {header}",
        "-->",
        "# Deploying this project",
        "",
        guide.intro or DEFAULT_INTRO,
    ]
    if guide.intro_by != "acb":
        out += ["", f"*(The paragraph above was drafted by {guide.intro_by}; the rest is acb's.)*"]
    out += ["", "| environment | target | |", "|---|---|---|"]
    out += [f"| `{e.name}` | {e.target} | {e.summary} |" for e in guide.environments]
    for env in guide.environments:
        out += ["", *_environment(env)]
    return "\n".join(out).rstrip() + "\n"


def _environment(env: EnvironmentGuide) -> list[str]:
    out = [f"## Environment `{env.name}` ({env.target})", "", env.summary, "", "### Prerequisites"]
    out += ["", "| program | found here | why |", "|---|---|---|"]
    out += [f"| `{p.program}` | {p.version} | {p.why} |" for p in env.prerequisites]
    if env.artefacts:
        out += ["", "### Artefacts", "", "| file | sha256 | validated by |", "|---|---|---|"]
        out += [
            f"| `{a.path}` | `{a.sha256[:16]}` | {'; '.join(a.checked_by)} |" for a in env.artefacts
        ]
    out += ["", "### Settings and secrets", ""]
    if env.settings:
        out += ["Names only: values are never written here.", ""]
        out += ["| name | kind | value comes from |", "|---|---|---|"]
        out += [
            f"| `{s.name}` | {'secret' if s.secret else 'setting'} | {s.source} |"
            for s in env.settings
        ]
    else:
        out.append("None.")
    phases: list[str] = []
    for command in env.commands:
        if command.phase not in phases:
            phases.append(command.phase)
    for phase in phases:
        out += ["", f"### {phase[0].upper()}{phase[1:]}", ""]
        mine = [c for c in env.commands if c.phase == phase]
        out += [f"- `{c.line}`: {c.why} ({c.checked})" for c in mine]
        out += ["", "```bash", *(c.line for c in mine), "```"]
    out += ["", "### What verification measures", ""]
    out += [f"- {line}" for line in env.verification]
    return out


def commands_in(text: str, env: str) -> dict[str, list[str]]:
    """The command lines of one environment's section of a written guide, by phase: what a
    reader would copy (the tests run them)."""
    section = text.split(f"## Environment `{env}` ", 1)[1].split("\n## ", 1)[0]
    found: dict[str, list[str]] = {}
    for block in section.split("\n### ")[1:]:
        title, _, body = block.partition("\n")
        if "```bash\n" in body:
            lines = body.split("```bash\n", 1)[1].split("```", 1)[0]
            found[title.strip().lower()] = lines.splitlines()
    return found
