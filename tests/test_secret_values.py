"""Secrets in the environment, caught by name and by value: a sandboxed command does not see them,
and no event (ledger, JSONL, terminal) shows them, nor any credential-shaped string in free text;
while an ordinary environment passes through untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autocodebase.agent.runner import RunRequest, execute
from autocodebase.config import load_settings
from autocodebase.models.cassette import ScriptedModel
from autocodebase.redact import Redactor, is_secret
from autocodebase.sandbox.bwrap import bwrap_problem
from autocodebase.sandbox.environment import command_environment
from autocodebase.sandbox.policy import Limits, SandboxPolicy
from autocodebase.sandbox.run import run_command
from tests.helpers import reply

# Fakes, built by concatenation so that no scanner takes this file for a leak.
STRIPE_KEY = "sk_" + "live_" + "51HxYzQ2eZvKYlo2C0FAKEfake0123"
SLACK_HOOK = (
    "https://hooks.slack.com/services/" + "T0A1B2C3D/B0A1B2C3D/" + "q8Zr3LmX0pTa9VbN2kYw7HsE"
)
SENTRY_DSN = "https://" + "0123456789abcdef0123456789abcdef" + "@o123456.ingest.sentry.io/4504"

SECRETS = {
    # name: (value, the part of it that must never be seen)
    "DATABASE_URL": ("postgres://app:hunter2-db@db.internal:5432/app", "hunter2-db"),
    "SENTRY_DSN": (SENTRY_DSN, "0123456789abcdef0123456789abcdef"),
    "PIP_INDEX_URL": ("https://me:pip-s3cret@pypi.corp.example/simple", "pip-s3cret"),
    "PIP_EXTRA_INDEX_URL": ("https://__token__:xtra-t0ken@pkgs.example/simple", "xtra-t0ken"),
    "HTTPS_PROXY": ("http://bob:pr0xy-pass@proxy.corp:3128", "pr0xy-pass"),
    "HTTP_PROXY": ("http://bob:pr0xy-pass@proxy.corp:3128", "pr0xy-pass"),
    "ALL_PROXY": ("socks5://bob:pr0xy-pass@proxy.corp:1080", "pr0xy-pass"),
    "DB_PASS": ("correct-horse-battery", "correct-horse-battery"),
    "MYSQL_PWD": ("mysql-pw-12345", "mysql-pw-12345"),
    "PGPASSWORD": ("pg-pw-123456", "pg-pw-123456"),
    "STRIPE_SK": (STRIPE_KEY, STRIPE_KEY),
    "SLACK_WEBHOOK_URL": (SLACK_HOOK, SLACK_HOOK),
    "REDIS_URL": ("redis://:r3dis-passw0rd@cache:6379/0", "r3dis-passw0rd"),
    "AWS_SESSION_TOKEN": ("FwoGZXIvYXdzEBYaDHhLj1Z7abcdef", "FwoGZXIvYXdzEBYaDHhLj1Z7abcdef"),
    "ORDERS_DSN": ("mysql://u:ord3rs-pw@h/orders", "ord3rs-pw"),
    "LEGACY_PWD": ("legacy-password", "legacy-password"),
    "SMTP_PASS": ("smtp-password", "smtp-password"),
    "PAYMENTS_SK": ("payments-secret-1", "payments-secret-1"),
    "TEAMS_WEBHOOK_URL": ("https://example.webhook.office.com/x/abc", "office.com/x/abc"),
    "PROXY_AUTHORIZATION": ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    # Named innocently: caught by the value alone.
    "CI_UPLOAD": ("npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "a1B2c3D4e5F6g7H8i9J0"),
    "APP_SETTING": ("q8Zr3LmX0pTa9VbN2kYw7HsEfG5d", "q8Zr3LmX0pTa9VbN2kYw7HsEfG5d"),
}
HARMLESS = {
    "PATH": "/work/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/home/someone",
    "LANG": "en_US.UTF-8",
    "VIRTUAL_ENV": "/work/main/.venv",
    "GIT_COMMIT": "b13f77d3c6a1f0e2d4b5a6c7d8e9f00112233445",
    "LS_COLORS": "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:*.tar=01;31:*.tgz=01;31",
    "GIT_AUTHOR_NAME": "Ada Lovelace-Byron",
    "BUILD_ID": "123e4567-e89b-12d3-a456-426614174000",
    "DEPLOY_ENV": "ProductionDatabaseReplica01",
    "HTTPS_PROXY": "http://proxy.corp:3128",
    "GIT_REMOTE": "ssh://git@github.com/acme/widgets.git",
    "DATABASE_URL": "postgres://localhost:5432/app",
    "CONDA_DEFAULT_ENV": "analysis-2024",
}


@pytest.fixture
def secret_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (value, _) in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_a_secret_variable_is_not_passed_to_commands(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value, _ = SECRETS[name]
    monkeypatch.setenv(name, value)
    assert name not in command_environment()
    assert command_environment(allowed=(name,))[name] == value, "env_allow lets it through"


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_a_secret_variable_is_redacted_wherever_it_is_printed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value, part = SECRETS[name]
    monkeypatch.setenv(name, value)
    redactor = Redactor.from_environment()
    printed = f"$ env\n{name}={value}\nsome output around {value} too"
    assert part not in redactor.text(printed)


@pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap: {bwrap_problem()}")
def test_a_sandboxed_env_shows_no_secret(
    secret_environment: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in HARMLESS.items():
        if name not in ("PATH", "HOME"):  # the sandbox needs its own
            monkeypatch.setenv(name, value)
    policy = SandboxPolicy(mode="workspace-write", limits=Limits(timeout_s=20))
    outcome = run_command(policy, "env", tmp_path, command_environment())
    assert outcome.sandbox == "bubblewrap" and outcome.exit_code == 0, outcome.output
    for name, (_, part) in SECRETS.items():
        assert part not in outcome.output, name
    seen = dict(line.split("=", 1) for line in outcome.output.splitlines() if "=" in line)
    for name in ("LANG", "VIRTUAL_ENV", "GIT_COMMIT", "LS_COLORS", "GIT_AUTHOR_NAME"):
        assert seen.get(name) == HARMLESS[name], f"{name} should pass unchanged"


def test_an_ordinary_environment_passes_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in HARMLESS.items():
        monkeypatch.setenv(name, value)
    environment = command_environment()
    assert {name: environment.get(name) for name in HARMLESS} == HARMLESS
    assert not [name for name, value in HARMLESS.items() if is_secret(name, value)]
    redactor = Redactor.from_environment(HARMLESS)
    text = "\n".join(f"{name}={value}" for name, value in HARMLESS.items())
    assert redactor.text(text) == text


FREE_TEXT = [
    ("postgres://u:hunter2@db/x", "hunter2"),
    ("mysql+pymysql://app:Sup3r-Secret@db:3306/shop", "Sup3r-Secret"),
    ("redis://:r3dispw@cache:6379", "r3dispw"),
    ("git clone https://oauth2:glrt-t0kenvalue@gitlab.example/x.git", "glrt-t0kenvalue"),
    (SENTRY_DSN, "0123456789abcdef0123456789abcdef"),
    (SLACK_HOOK, "q8Zr3LmX0pTa9VbN2kYw7HsE"),
    ("https://discord.com/api/webhooks/112233445566/" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8", "Ab1Cd2Ef3Gh4"),
    (STRIPE_KEY, "51HxYzQ2eZvKYlo2C0"),
    ("rk_" + "live_" + "51HxYzQ2eZvKYlo2C0rest", "51HxYzQ2eZvKYlo2C0"),
    ("sk_" + "test_" + "4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("//registry.npmjs.org/:_authToken=npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "a1B2c3D4"),
    ("password = pypi-AgEIcHlwaS5vcmc" + "CJGQ2ZjFmNjI4LTk5", "AgEIcHlwaS5vcmcCJGQ2ZjFm"),
    ("HF_HUB: hf_" + "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"),
    ("glpat-" + "xxxxxxxxxxxxxxxxxxxx", "glpat-xxxxxxxxxxxxxxxxxxxx"),
    ("Authorization: ya29." + "a0AfH6SMBx3k2jL9mN0pQ4rS5tU", "a0AfH6SMBx3k2jL9mN0pQ4rS5tU"),
    ("client_secret=GOCSPX-" + "1a2B3c4D5e6F7g8H9i0J1k2L3m", "1a2B3c4D5e6F7g8H9i0J1k2L3m"),
    (
        "token eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "dozjgNryP4J3jVmNHl0w5N",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
        + "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
        + ";EndpointSuffix=core.windows.net",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu",
    ),
    (
        "https://acme.blob.core.windows.net/c?sv=2022&sig=" + "abcDEF123ghiJKL456mnoPQR789%3D",
        "abcDEF123ghiJKL456",
    ),
    ("TWILIO key SK" + "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    (
        "SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
        "TwL2iGABf9DHoTf",
    ),
    (
        "MTA1MjM0NTY3ODkwMTIzNDU2" + ".GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789",
        "GaBcDe.abcdefghijklm",
    ),
    ("bot123456789:AA" + "HdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "HdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
    ("Server=db;Database=shop;User Id=sa;Password=Hunt3r-2;", "Hunt3r-2"),
    ("host=db user=app password=pg-h0nk dbname=shop", "pg-h0nk"),
    ("jdbc:mysql://db/shop?user=app&passwd=jdbc-pw-1", "jdbc-pw-1"),
]


@pytest.mark.parametrize("text,secret", FREE_TEXT, ids=[t[1][:16] for t in FREE_TEXT])
def test_credentials_in_free_text_are_redacted(text: str, secret: str) -> None:
    """A tool prints a credential that is in no variable (a config file, a server's answer)."""
    redacted = Redactor().text(f"output before\n{text}\noutput after")
    assert secret not in redacted and "[REDACTED" in redacted
    assert redacted.startswith("output before\n") and redacted.endswith("\noutput after")


@pytest.mark.parametrize(
    "text",
    [
        "PWD=/work/main OLDPWD=/tmp",
        "ssh://git@github.com/acme/widgets.git and git@github.com:acme/widgets.git",
        "https://user@example.com/x and mailto hunter@example.com",
        "commit b13f77d3c6a1f0e2d4b5a6c7d8e9f00112233445",
        "password=${DB_PASSWORD} password=/run/secrets/db",
        "https://example.com/a?b=c&d=e#f",
        "def login(user, password):\n    return check(password)",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_printed_database_url_and_stripe_key_never_reach_the_ledger(
    wordstats_repo: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url, password = SECRETS["DATABASE_URL"]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STRIPE_SK", STRIPE_KEY)
    (wordstats_repo / "settings.ini").write_text(
        f"[db]\nurl = postgres://admin:adm1n-pw@prod/db\n[stripe]\nkey = {STRIPE_KEY}\n"
    )
    command = "cat settings.ini; echo db:${DATABASE_URL:-withheld} sk:${STRIPE_SK:-withheld}"
    script = [reply("", ("shell", {"command": command})), reply(f"The key is {STRIPE_KEY}")]
    model = ScriptedModel(script, "scripted/t")
    execute(RunRequest(f"use {database_url}", wordstats_repo, load_settings(wordstats_repo), model))
    raw = b"".join(
        p.read_bytes() for p in isolated_home.iterdir() if p.name.startswith("ledger.db")
    )
    assert raw, "the ledger was written"
    for secret in (password, "adm1n-pw", STRIPE_KEY, "51HxYzQ2eZvKYlo2C0"):
        assert secret.encode() not in raw, secret
    connection = sqlite3.connect(isolated_home / "ledger.db")
    payloads = " ".join(row[0] for row in connection.execute("SELECT payload FROM events"))
    assert "db:withheld sk:withheld" in payloads, "the command never had them"
    assert "postgres://admin:[REDACTED]@prod/db" in payloads
    assert "[REDACTED:DATABASE_URL]" in payloads  # the task quoted it whole


def test_the_model_sees_no_secret_from_the_environment(
    secret_environment: None, wordstats_repo: Path
) -> None:
    """The model's next request carries the command's output (unredacted: it is the model's
    working material), so the secret must not be in the command's environment at all."""
    script = [reply("", ("shell", {"command": "env | sort"})), reply("Done.")]
    model = ScriptedModel(script, "scripted/t")
    execute(RunRequest("look", wordstats_repo, load_settings(wordstats_repo), model))
    seen = " ".join(message.content for message in model.requests[-1])
    assert "VIRTUAL_ENV=" in seen or "PATH=" in seen, "the command ran and its output came back"
    for name, (_, part) in SECRETS.items():
        assert part not in seen, name
