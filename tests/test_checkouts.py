"""The evaluation's one fetch: a mirror cloned from https://github.com/... when no local copy
is given. acb's git helper allows no transport (`protocol.allow=never`); that clone opens https
for itself and nothing else. No network: an https clone of a loopback port nothing listens on
gets as far as connecting (and fails there), every other transport is refused by git first."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.evaluation.checkouts import HTTPS_ONLY, CheckoutFailed, clone_mirror, git
from tests.conftest import commit_all
from tests.helpers import write_file

NOT_LISTENING = "127.0.0.1:1"


def test_the_mirror_clone_allows_https_and_no_other_transport(tmp_path: Path) -> None:
    allowed = git(tmp_path, "config", "--get-regexp", r"^protocol\.", env=HTTPS_ONLY)
    settings = dict(line.split(" ", 1) for line in allowed.splitlines())
    assert settings["protocol.allow"] == "never"
    assert settings["protocol.https.allow"] == "always"
    assert [k for k, v in settings.items() if v != "never"] == ["protocol.https.allow"]


def test_an_https_clone_gets_to_the_network(tmp_path: Path) -> None:
    """Before, acb's git refused it outright: `transport 'https' not allowed`."""
    with pytest.raises(CheckoutFailed) as failed:
        clone_mirror(f"https://{NOT_LISTENING}/octo/hello.git", tmp_path / "mirror")
    assert "not allowed" not in str(failed.value)
    assert "Failed to connect" in str(failed.value) or "Could not connect" in str(failed.value)


def test_every_other_transport_stays_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_file(source / "README.md", "hello\n")
    commit_all(source, "initial", init=True)
    for url, transport in [
        (f"file://{source}", "file"),
        (str(source), "file"),
        (f"http://{NOT_LISTENING}/octo/hello.git", "http"),
        ("ssh://git@127.0.0.1:1/octo/hello.git", "ssh"),
        ("ext::sh -c touch% /tmp/acb-ext-ran", "ext"),
    ]:
        with pytest.raises(CheckoutFailed, match=f"transport '{transport}' not allowed"):
            git(tmp_path, "clone", "--mirror", url, str(tmp_path / "out"), env=HTTPS_ONLY)
    with pytest.raises(CheckoutFailed, match="https only"):
        clone_mirror(f"http://{NOT_LISTENING}/octo/hello.git", tmp_path / "mirror")
