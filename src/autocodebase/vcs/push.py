"""`git push` of one branch, with the token kept off every command line and out of every file.

acb's git helper allows no transport at all (`protocol.allow=never`: acb never fetches). A
push opens exactly one, chosen from the push URL, for this one command:

- https: the token travels as an `http.<url>.extraHeader` (`Authorization: Basic ...`) given
  to git through `GIT_CONFIG_COUNT` variables in its environment: not in argv (which any user
  of the machine can list), not in `.git/config`, not in a credential store, and scoped to
  the remote's URL, so a redirect to another host does not receive it. http is refused except
  to a loopback host.
- ssh: the user's own `ssh` and keys (`GIT_SSH_COMMAND=ssh`: the helper pins
  `core.sshCommand`, which a repository could otherwise name); no token involved.
- a local path (a bare repository on this disk): git runs that repository's `receive-pack`
  as the user, and with it its hooks. So the path must lie outside the work tree (where the run,
  or a model's command, could have planted a repository with hooks), and `receive-pack` runs
  with `core.hooksPath=/dev/null`, as every git acb runs does.
"""

from __future__ import annotations

import base64
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from autocodebase.errors import UsageError
from autocodebase.vcs.git import GitError, git, git_program, git_text


def push_url(root: Path, remote: str) -> str:
    """The URL a push to `remote` goes to (`pushurl`, `insteadOf` rules applied)."""
    try:
        return git_text(root, "remote", "get-url", "--push", remote)
    except GitError:
        raise UsageError(f"no remote named {remote!r} in {root} (see `git remote -v`)") from None


def _loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "[::1]")


def push_environment(
    url: str, root: Path, token: str | None, user: str, token_host: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The extra `git push` options and the environment (config as `GIT_CONFIG_*` variables)
    that let git push to `url` and nowhere else. A token is sent only to `token_host`, the
    forge it belongs to (when given): a push URL on another host (a `pushurl` or `insteadOf`
    someone set) is refused rather than handed the token."""
    parts = urlsplit(url) if "://" in url else None
    scheme = parts.scheme if parts else ("file" if _is_path(url) else "ssh")
    pairs: list[tuple[str, str]] = []
    env: dict[str, str] = {}
    options: list[str] = []
    if scheme in ("https", "http"):
        assert parts is not None
        if scheme == "http" and not _loopback(parts.hostname or ""):
            raise UsageError(f"refusing to push over http:// to {parts.hostname}: use https")
        pairs.append((f"protocol.{scheme}.allow", "always"))
        if token and token_host and _host(token_host) != (parts.hostname or "").lower():
            raise UsageError(
                f"refusing to push to {parts.hostname} with the token for {token_host}: the "
                "remote's push URL is on another host"
            )
        if token:
            basic = base64.b64encode(f"{user}:{token}".encode()).decode()
            scope = f"{scheme}://{parts.netloc.rpartition('@')[2]}/"
            pairs.append((f"http.{scope}.extraHeader", f"Authorization: Basic {basic}"))
    elif scheme in ("ssh", "git+ssh"):
        pairs.append(("protocol.ssh.allow", "always"))
        env["GIT_SSH_COMMAND"] = "ssh"
    elif scheme == "file":
        _check_local_remote(Path(parts.path if parts else url), root)
        pairs.append(("protocol.file.allow", "always"))
        receive_pack = f"{shlex.quote(git_program())} -c core.hooksPath=/dev/null receive-pack"
        options.append(f"--receive-pack={receive_pack}")
    else:
        raise UsageError(f"acb pushes over https, ssh or to a local path, not {scheme}://")
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for number, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return options, env


def _host(netloc: str) -> str:
    """`host[:port]` without its port, lowercased."""
    return (urlsplit(f"//{netloc}").hostname or netloc).lower()


def _is_path(url: str) -> bool:
    return url.startswith(("/", "./", "../", "~")) or (":" not in url)


def _check_local_remote(path: Path, root: Path) -> None:
    target = (root / path.expanduser()).resolve()
    work_tree = root.resolve()
    if target == work_tree or work_tree in target.parents:
        raise UsageError(
            f"refusing to push to {target}: it lies inside the work tree, where a run could "
            "have written it (its hooks would run on this machine)"
        )
    if not (target / "HEAD").is_file() and not (target / ".git").exists():
        raise UsageError(f"the push remote {target} is not a git repository")


def push_branch(
    root: Path,
    remote: str,
    branch: str,
    token: str | None = None,
    user: str = "x-access-token",
    token_host: str | None = None,
) -> str:
    """Push `branch` to the same name on `remote`; the URL pushed to. `user` is the name
    the forge expects beside a token (GitHub: any, `x-access-token`; GitLab: `oauth2`);
    `token_host` the forge the token is for (see `push_environment`)."""
    url = push_url(root, remote)
    options, env = push_environment(url, root, token, user, token_host)
    refspec = f"refs/heads/{branch}:refs/heads/{branch}"
    try:
        git(root, "push", "--porcelain", *options, url, refspec, env=env)
    except GitError as exc:
        raise UsageError(f"pushing {branch} to {remote} failed: {exc}") from None
    return url
