"""The client for a forge reference: GitHub or GitLab, its API root, its token."""

from __future__ import annotations

from collections.abc import Callable

from autocodebase.forge.base import Forge
from autocodebase.forge.github import GitHub, github_headers
from autocodebase.forge.gitlab import GitLab, gitlab_headers
from autocodebase.forge.http import ForgeHttp
from autocodebase.forge.refs import ForgeRef
from autocodebase.forge.tokens import Token

CLIENTS: dict[str, tuple[Callable[[ForgeRef, ForgeHttp], Forge], Callable[..., dict[str, str]]]]
CLIENTS = {"github": (GitHub, github_headers), "gitlab": (GitLab, gitlab_headers)}


def forge_for(ref: ForgeRef, token: Token | None) -> Forge:
    """A client for `ref`'s repository, authenticated with `token` when there is one."""
    client, headers = CLIENTS[ref.forge]
    return client(ref, ForgeHttp(ref.api_url, headers(token)))
