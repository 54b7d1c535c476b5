"""Each setting is declared once (issue 17, item 5): validation, the project allow-list, the
environment layer, the config tables and the command line's choices all come from the fields of
`Settings`; and every command's `-C DIR` is the one shared option."""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
from dataclasses import fields
from pathlib import Path
from typing import get_args

import click
import pytest

from autocodebase.cli import options
from autocodebase.cli.main import SUBCOMMANDS, main
from autocodebase.config import (
    APPROVAL_POLICIES,
    BLOCK_ON,
    DEFAULTS,
    ENV_KEYS,
    FALLBACKS,
    PROJECT_MAY_SET,
    SANDBOX_MODES,
    SEVERITY_ORDER,
    SPECS,
    TABLES,
    ApprovalPolicy,
    BlockOn,
    Settings,
    load_settings,
)
from autocodebase.errors import ConfigError
from autocodebase.sandbox import gate, policy
from tests.fakes.mock_server import MockModelServer, Reply
from tests.helpers import run_acb, write_file, write_user_config

# -- the declaration is the only table ---------------------------------------------------


def test_every_field_declares_who_may_set_it() -> None:
    """A field added without `setting(project=...)` metadata would be unreadable from a config
    file, and nobody would have decided whether a repository may set it."""
    undeclared = [
        f.name
        for f in fields(Settings)
        if f.name not in {"warnings", "sources"} and "project" not in f.metadata
    ]
    assert undeclared == []
    assert set(SPECS) == {f.name for f in fields(Settings)} - {"warnings", "sources"}


def test_the_project_allow_list_is_what_the_fields_say() -> None:
    declared = {f.name: f.metadata.get("project") for f in fields(Settings)}
    assert {name: rule for name, rule in declared.items() if rule} == PROJECT_MAY_SET
    # What would let a repository loosen how acb runs in it stays out of the list.
    yours_only = {
        "model",
        "providers",
        "mcp_servers",
        "prices",
        "ledger_path",
        "approvals",
        "sandbox_mode",
        "network",
        "sandbox_fallback",
        "writable_roots",
        "env_allow",
        "max_processes",
        "memory_mb",
        "use_git",
        "request_timeout_s",
        "retry_attempts",
        "retry_base_delay_s",
        "retry_max_delay_s",
        "review_model",
        "compact_at_tokens",
        "stream",
    }
    assert not yours_only & set(PROJECT_MAY_SET)
    assert yours_only | set(PROJECT_MAY_SET) == set(SPECS)
    # And what it may set, it may set to your default: the rules accept the values acb starts with.
    for name, rule in PROJECT_MAY_SET.items():
        if DEFAULTS[name] is not None:
            assert rule(DEFAULTS[name], DEFAULTS[name], False) is None, name


def test_choices_are_the_literal_types() -> None:
    assert APPROVAL_POLICIES == get_args(ApprovalPolicy) == SPECS["approvals"].choices
    assert BLOCK_ON == get_args(BlockOn) == SPECS["review_block_on"].choices
    assert SPECS["sandbox_mode"].choices == SANDBOX_MODES == get_args(policy.SandboxMode)
    assert SPECS["sandbox_fallback"].choices == FALLBACKS == get_args(policy.Fallback)
    assert sorted(SEVERITY_ORDER) == sorted(BLOCK_ON)
    assert gate.ApprovalPolicy is ApprovalPolicy
    assert DEFAULTS["sandbox_mode"] == policy.SandboxPolicy().mode
    assert DEFAULTS["sandbox_fallback"] == policy.SandboxPolicy().fallback


def _option(command: click.Command, name: str) -> click.Parameter:
    return next(p for p in command.params if p.name == name)


def _choices(command: click.Command, name: str) -> tuple[str, ...]:
    kind = _option(command, name).type
    assert isinstance(kind, click.Choice)
    return tuple(kind.choices)


def test_command_line_choices_come_from_the_settings() -> None:
    from autocodebase.cli.chat import chat
    from autocodebase.cli.exec_cmd import exec_command
    from autocodebase.cli.review_cmd import review_command
    from autocodebase.cli.sandbox_cmd import sandbox

    for command in (exec_command, chat):
        assert _choices(command, "sandbox_mode") == SANDBOX_MODES
        assert _choices(command, "approvals") == APPROVAL_POLICIES
    assert _choices(sandbox, "mode") == SANDBOX_MODES
    assert _choices(review_command, "fail_on") == BLOCK_ON


def test_each_environment_variable_overrides_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ENV_KEYS == {
        "ACB_MODEL": "model",
        "ACB_MAX_STEPS": "max_steps",
        "ACB_MAX_COST": "max_cost",
        "ACB_MAX_MINUTES": "max_minutes",
        "ACB_TEST_COMMAND": "test_command",
    }
    values = {"ACB_MODEL": ("anthropic/x", "anthropic/x"), "ACB_MAX_STEPS": ("7", 7)}
    values["ACB_MAX_COST"] = ("0.5", 0.5)
    values["ACB_MAX_MINUTES"] = ("2.5", 2.5)
    values["ACB_TEST_COMMAND"] = ("make check", "make check")
    for variable, (raw, _) in values.items():
        monkeypatch.setenv(variable, raw)
    settings = load_settings(tmp_path)
    for variable, (_, expected) in values.items():
        assert getattr(settings, ENV_KEYS[variable]) == expected


def test_each_table_key_sets_its_setting(tmp_path: Path) -> None:
    """`[sandbox] mode` and friends: every spelling a table offers reaches its field."""
    examples = {str: "x", int: 3, float: 0.5, bool: False, tuple: ["A"]}
    lines = []
    expected = {}
    for table, keys in TABLES.items():
        lines.append(f"[{table}]")
        for key, name in keys.items():
            spec = SPECS[name]
            value = spec.choices[-1] if spec.choices else examples[spec.kind]  # type: ignore[index]
            lines.append(f"{key} = {json.dumps(value)}")
            expected[name] = tuple(value) if isinstance(value, list) else value
    write_user_config("\n".join(lines) + "\n")
    settings = load_settings(tmp_path)
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.kind in (int, float)))
def test_every_number_is_checked_in_one_line(name: str, tmp_path: Path) -> None:
    write_user_config(f'{name} = "lots"\n')
    with pytest.raises(ConfigError, match=f"{name} must be a") as caught:
        load_settings(tmp_path)
    assert "\n" not in str(caught.value)
    write_user_config(f"{name} = -1\n")
    with pytest.raises(ConfigError, match=f"{name} must not be negative"):
        load_settings(tmp_path)


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if s.choices))
def test_every_choice_is_checked_in_one_line(name: str, tmp_path: Path) -> None:
    write_user_config(f'{name} = "sometimes"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert str(caught.value).endswith(
        f"{name} must be one of {', '.join(SPECS[name].choices or ())}"
    )
    assert "\n" not in str(caught.value)


# -- one -C for every command --------------------------------------------------------------


def _commands() -> list[tuple[str, click.Command]]:
    """Every command acb has, groups opened: (`acb` words, command)."""
    found = []
    for name, (module, attribute, _) in SUBCOMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        else:
            found.append((name, command))
    return found


def test_every_dash_c_is_the_shared_option() -> None:
    with_dash_c = {
        words: next((p for p in command.params if "-C" in p.opts), None)
        for words, command in _commands()
    }
    with_dash_c = {words: p for words, p in with_dash_c.items() if p is not None}
    assert len(with_dash_c) >= 14  # exec, chat, map, review, ... and approvals' three
    for words, parameter in with_dash_c.items():
        assert parameter.callback is options._directory, words
        assert parameter.opts == ["-C", "--cd"] and parameter.name == "directory", words


DASH_C = [
    ["exec", "x", "-C", "DIR"],
    ["chat", "-C", "DIR"],
    ["approvals", "list", "-C", "DIR"],
    ["approvals", "add", "--program", "make", "-C", "DIR"],
    ["approvals", "revoke", "--all", "-C", "DIR"],
    ["ci", "--plan", "-C", "DIR"],
    ["deploy", "--status", "-C", "DIR"],  # was an internal error for a file
    ["map", "-C", "DIR"],
    ["monitor", "-C", "DIR"],  # said "no .acb/deploy.toml" for a missing directory
    ["patch", "apply", "-C", "DIR"],
    ["review", "-C", "DIR"],  # was an internal error for a file
    ["sandbox", "-C", "DIR", "--", "true"],
    ["tests", "-C", "DIR"],
    ["undo", "20260101-000000-abcdef", "-C", "DIR"],  # ignored -C when given a run id
]


@pytest.mark.parametrize("words", DASH_C, ids=[" ".join(w[:2]) for w in DASH_C])
def test_a_bad_dash_c_is_one_clear_line(
    words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = write_file(tmp_path / "a-file", "")
    for where, message in ((tmp_path / "nope", "no such directory"), (a_file, "not a directory")):
        with pytest.raises(SystemExit) as stop:
            main([str(where) if word == "DIR" else word for word in words])
        err = capsys.readouterr().err
        assert stop.value.code == 2, err
        assert err == f"acb: error: {message}: {where}\n"
    assert not (tmp_path / "nope").exists()


def test_dash_c_resolves_the_same_way_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    parameter = _option(importlib.import_module("autocodebase.cli.undo_cmd").undo, "directory")
    context = click.Context(click.Command("x"))
    for given in ("repo", "./repo/", "~/repo", str(tmp_path / "repo")):
        assert parameter.process_value(context, given) == tmp_path / "repo"
    assert parameter.process_value(context, None) == tmp_path  # default: where you are


# -- a piped `acb` honours every flag it was given ------------------------------------------


def test_piped_chat_keeps_its_sandbox_and_approvals(tmp_path: Path, isolated_home: Path) -> None:
    """`echo task | acb --sandbox read-only` ran as `acb exec` with only -C and -m: the
    sandbox, approvals, network and no-git flags were dropped (so the run could write)."""
    with MockModelServer([Reply("nothing to do")]) as server:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "OPENAI_BASE_URL": server.url + "/v1"}
        done = run_acb(
            *("--sandbox", "read-only", "--approvals", "untrusted", "--network", "--no-git"),
            *("-m", "openai/mock-model", "-C", str(tmp_path)),
            cwd=Path(os.sep),
            env=env,
            stdin="look around\n",
        )
    assert done.returncode == 0, done.stderr
    row = (
        sqlite3.connect(isolated_home / "ledger.db").execute("SELECT settings FROM runs").fetchone()
    )
    recorded = json.loads(row[0])
    assert recorded["sandbox_mode"] == "read-only" and recorded["approvals"] == "untrusted"
    assert recorded["network"] is True and recorded["use_git"] is False
