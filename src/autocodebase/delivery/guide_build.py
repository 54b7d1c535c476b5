"""Builds a deployment guide from acb's knowledge: one builder per target in a registry, every
command of every environment checked before anything is returned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autocodebase.delivery.guide import EnvironmentGuide, Guide
from autocodebase.delivery.guide_commands import AcbCheck, Known, check_all
from autocodebase.delivery.guide_containers import compose, kubernetes
from autocodebase.delivery.guide_facts import GuideError, local, more, sha256
from autocodebase.delivery.local import CONFIG_FILE, DeployConfig, load_config

Builder = Callable[[Path, DeployConfig], tuple[EnvironmentGuide, Known, dict[str, str]]]
BUILDERS: dict[str, Builder] = {"local": local, "compose": compose, "kubernetes": kubernetes}
"""How each target's part of the guide is gathered (a new target adds one entry)."""


def build_guide(root: Path, names: list[str], acb: AcbCheck) -> Guide:
    """The guide for `names`, every command checked; raises GuideError rather than return a
    guide with a command that would fail."""
    sources = {CONFIG_FILE: sha256(root / CONFIG_FILE)}
    environments = []
    problems: list[str] = []
    for name in names:
        config = load_config(root, name)
        env, known, files = BUILDERS[config.target](root, config)
        environments.append(env)
        sources.update(files)
        problems += [f"[{name}] {p}" for p in check_all(env.commands, known, acb)]
    if problems:
        raise GuideError(f"not written: {problems[0]}" + more(problems))
    return Guide(environments, dict(sorted(sources.items())))
