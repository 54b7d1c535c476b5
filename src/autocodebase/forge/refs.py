"""What a user hands `acb resolve` and `acb review --post`, read into typed references.

Accepted: GitHub issue and pull-request URLs (github.com, or a GitHub Enterprise host, whose
API lives at /api/v3), GitLab issue and merge-request URLs on any host (`/-/issues/N`,
`/-/merge_requests/N`; the API at /api/v4), and git remote URLs (https, ssh, scp-like) for
naming a fork. https only: a token is never sent in clear, except to a loopback host (a forge
running on this machine, such as the tests' one).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

from autocodebase.errors import UsageError

ForgeKind = Literal["github", "gitlab"]
ItemKind = Literal["issue", "change"]

_GITHUB_PATH = re.compile(r"^/([^/]+)/([^/]+)/(issues|pull)/(\d+)/?$")
_GITLAB_PATH = re.compile(r"^/(.+?)/-/(issues|merge_requests)/(\d+)/?$")
_LEGACY_GITLAB_PATH = re.compile(r"^/(.+?)/(issues|merge_requests)/(\d+)/?$")
_SCP_REMOTE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(.+)$")


@dataclass(frozen=True)
class ForgeRef:
    """An issue or a pull/merge request on a forge."""

    forge: ForgeKind
    scheme: str
    host: str
    project: str
    """`owner/repo` on GitHub; `group/subgroup/project` on GitLab."""
    number: int
    """The number people see: GitHub's issue/PR number, GitLab's iid."""
    kind: ItemKind

    @property
    def api_url(self) -> str:
        root = f"{self.scheme}://{self.host}"
        if self.forge == "gitlab":
            return f"{root}/api/v4"
        return "https://api.github.com" if self.host == "github.com" else f"{root}/api/v3"

    @property
    def project_id(self) -> str:
        """GitLab's URL-encoded project path (`group%2Fproject`), GitHub's `owner/repo`."""
        return quote(self.project, safe="") if self.forge == "gitlab" else self.project

    @property
    def web_url(self) -> str:
        if self.forge == "gitlab":
            part = "issues" if self.kind == "issue" else "merge_requests"
            return f"{self.scheme}://{self.host}/{self.project}/-/{part}/{self.number}"
        part = "issues" if self.kind == "issue" else "pull"
        return f"{self.scheme}://{self.host}/{self.project}/{part}/{self.number}"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def parse_forge_url(url: str) -> ForgeRef:
    """The issue or pull/merge request `url` names; a `UsageError` (one line) otherwise."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"not a forge URL: {url} (expected https://HOST/OWNER/REPO/issues/N)")
    if parts.scheme == "http" and not is_loopback(host.rsplit(":", 1)[0]):
        raise UsageError(f"refusing http:// for {host}: a token would travel in clear; use https")
    if parts.netloc != host:
        raise UsageError(f"put no credentials in the URL ({parts.scheme}://{host}...)")
    path = parts.path
    if found := _GITLAB_PATH.match(path):
        return _ref("gitlab", parts.scheme, host, found.group(1), found.group(2), found.group(3))
    if (found := _LEGACY_GITLAB_PATH.match(path)) and "gitlab" in host and "/" in found.group(1):
        return _ref("gitlab", parts.scheme, host, found.group(1), found.group(2), found.group(3))
    if found := _GITHUB_PATH.match(path):
        project = f"{found.group(1)}/{found.group(2)}"
        return _ref("github", parts.scheme, host, project, found.group(3), found.group(4))
    raise UsageError(
        f"not an issue or pull/merge request URL: {url} (GitHub: /OWNER/REPO/issues/N or "
        "/pull/N; GitLab: /GROUP/PROJECT/-/issues/N or /-/merge_requests/N)"
    )


def _ref(forge: ForgeKind, scheme: str, host: str, project: str, part: str, n: str) -> ForgeRef:
    kind: ItemKind = "issue" if part == "issues" else "change"
    return ForgeRef(forge, scheme, host, project.removesuffix(".git"), int(n), kind)


def remote_project(url: str) -> tuple[str, str] | None:
    """(host, project path) of a git remote URL (https, ssh://, scp-like `git@host:o/r.git`);
    None for a local path or anything else."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git+ssh"):
            return None
        host = parts.hostname or ""
        project = parts.path.strip("/")
    elif (found := _SCP_REMOTE.match(url)) and not url.startswith(("/", ".")):
        host, project = found.group(1), found.group(2).strip("/")
    else:
        return None
    project = project.removesuffix(".git")
    return (host, project) if host and "/" in project else None


_PROJECT = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")


def project_of_remote(url: str, forge: ForgeKind, project: str | None = None) -> ForgeRef:
    """The forge project autopilot works on: the one the remote `url` names, or `project`
    (`OWNER/NAME`, a GitLab `group/.../project`) on the remote's host. The forge is the
    user's word (`--source github|gitlab`), so GitHub Enterprise and a self-hosted GitLab
    under any host name work. The API is reached over https; over http only on a loopback
    host (a forge on this machine), as for issue URLs. A `UsageError` (one line) otherwise."""
    found = remote_project(url)
    if found is None:
        raise UsageError(f"the remote {url} names no forge project (https or ssh URL expected)")
    host, remote_path = found
    scheme = "https"
    if "://" in url and urlsplit(url).scheme in ("http", "https"):
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]  # the port too: the API is on the same one
        scheme = parts.scheme
        if scheme == "http" and not is_loopback(parts.hostname or ""):
            raise UsageError(f"refusing http:// for {host}: a token would travel in clear")
    chosen = (project or remote_path).strip("/").removesuffix(".git")
    if not _PROJECT.fullmatch(chosen) or ".." in chosen.split("/"):
        raise UsageError(f"not a project path: {chosen!r} (OWNER/NAME, or GROUP/.../PROJECT)")
    if forge == "github" and chosen.count("/") != 1:
        raise UsageError(f"a GitHub repository is OWNER/NAME, not {chosen!r}")
    return ForgeRef(forge, scheme, host, chosen, 0, "issue")
