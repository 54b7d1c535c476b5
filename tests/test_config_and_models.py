"""Settings layers, model selection, pricing, retry timing, redaction, AGENTS.md discovery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocodebase.config import load_settings
from autocodebase.context.agents_md import discover
from autocodebase.errors import ConfigError, UsageError
from autocodebase.models.base import ModelError, Usage
from autocodebase.models.faults import parse_retry_after
from autocodebase.models.openai_chat import OpenAIChatModel
from autocodebase.models.pricing import Price, cost_of, price_for
from autocodebase.models.registry import build_model
from autocodebase.models.retry import RetryPolicy
from autocodebase.redact import Redactor
from tests.helpers import write_file


def user_config(text: str) -> None:
    write_file(Path(os.environ["XDG_CONFIG_HOME"]) / "acb" / "config.toml", text)


def test_layers_merge_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_config('model = "anthropic/claude-sonnet-4-5"\nmax_steps = 40\nstream = false\n')
    write_file(tmp_path / ".acb/config.toml", "max_steps = 20\nshell_timeout_s = 5\n")
    assert load_settings(tmp_path).max_steps == 20  # project beats user (it may lower a budget)
    monkeypatch.setenv("ACB_MAX_STEPS", "30")
    settings = load_settings(tmp_path, {"max_steps": None, "max_cost": 2.5})
    assert settings.model == "anthropic/claude-sonnet-4-5" and settings.warnings == ()
    assert settings.max_steps == 30  # env beats project beats user
    assert settings.shell_timeout_s == 5
    assert settings.stream is False  # an explicit false survives later layers that say nothing
    assert settings.max_cost == 2.5
    assert load_settings(tmp_path, {"max_steps": 7}).max_steps == 7


@pytest.mark.parametrize(
    "text,message",
    [
        ("max_steps = 'many'", "max_steps must be a whole number"),
        ("max_steps = -1", "must not be negative"),
        ("frobnicate = 1", "unknown setting"),
        ("stream = 3", "stream must be true or false"),
        ("[providers.x]\nwire_api = 'grpc'", "wire_api"),
        ("[providers.x]\nbase_url = 'file:///etc/passwd'", "base_url must be an http"),
        ("[providers.x]\nbase_url = 8000", "base_url must be an http"),
        ("[providers.x]\napi_key_env = 'KEY; rm -rf ~'", "api_key_env must name"),
        ("max_steps = = 1", "cannot read config"),
    ],
)
def test_bad_config_is_a_clear_error(text: str, message: str, tmp_path: Path) -> None:
    user_config(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path)


def test_model_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(tmp_path)
    ollama = build_model("ollama/qwen2.5-coder:7b", settings)
    assert isinstance(ollama, OpenAIChatModel)
    assert ollama.base_url == "http://127.0.0.1:11434/v1" and ollama.model_id == "qwen2.5-coder:7b"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    openai = build_model("openai/gpt-5.1", settings)
    assert isinstance(openai, OpenAIChatModel) and openai.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY is not set"):
        build_model("anthropic/claude-sonnet-4-5", settings)


def test_named_provider_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_config('[providers.vllm]\nbase_url = "http://127.0.0.1:8000/v1"\n')
    model = build_model("vllm/Qwen/Qwen2.5-Coder-32B", load_settings(tmp_path))
    assert isinstance(model, OpenAIChatModel)
    assert model.model_id == "Qwen/Qwen2.5-Coder-32B" and model.base_url.endswith(":8000/v1")


def test_pricing() -> None:
    assert price_for("openai/gpt-4o-2024-08-06") == price_for("openai/gpt-4o")
    assert price_for("ollama/llama3") == Price(0, 0, 0)
    assert price_for("openai/unknown-model") is None
    assert price_for("x/y", {"x/y": Price(1, 2)}) == Price(1, 2)
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=400_000)
    assert cost_of(usage, Price(2.0, 8.0, 0.5)) == pytest.approx(0.6 * 2 + 0.4 * 0.5 + 0.5 * 8)
    assert cost_of(usage, None) is None


def test_retry_delays() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=lambda: 1.0)
    plain = ModelError("x", retryable=True)
    assert [policy.delay_for(n, plain) for n in (1, 2, 3, 5)] == [1.0, 2.0, 4.0, 10.0]
    assert policy.delay_for(1, ModelError("x", retryable=True, retry_after=3)) == 3
    assert policy.delay_for(1, ModelError("x", retryable=True, retry_after=3600)) == 10.0
    low = RetryPolicy(base_delay=1.0, jitter=lambda: 0.0)
    assert low.delay_for(1, plain) == 0.5


def test_parse_retry_after() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None


def test_redaction() -> None:
    redactor = Redactor({"OPENAI_API_KEY": "sk-live-abcdefghijklmnop", "SHORT_TOKEN": "abc"})
    text = redactor.text("key=sk-live-abcdefghijklmnop other=abc")
    assert text == "key=[REDACTED:OPENAI_API_KEY] other=abc"
    assert "ghp_" not in redactor.text("token ghp_" + "a" * 36)
    assert (
        redactor.text("Authorization: Bearer abcdefghijklmnopqrstu")
        == "Authorization: Bearer [REDACTED]"
    )
    assert "[REDACTED]" in redactor.text("sk-ant-api03-" + "x" * 30)
    nested = redactor.value({"a": ["sk-live-abcdefghijklmnop"], "n": 3})
    assert nested == {"a": ["[REDACTED:OPENAI_API_KEY]"], "n": 3}


def test_redactor_from_environment() -> None:
    redactor = Redactor.from_environment({"GITHUB_TOKEN": "tok-1234567890", "HOME": "/root/home"})
    assert redactor.text("tok-1234567890 /root/home") == "[REDACTED:GITHUB_TOKEN] /root/home"


def test_agents_md_from_root_down(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write_file(tmp_path / "AGENTS.md", "root rules")
    write_file(tmp_path / "pkg/AGENTS.md", "pkg rules")
    write_file(tmp_path / "pkg/sub/AGENTS.override.md", "override")
    write_file(tmp_path / "pkg/sub/AGENTS.md", "ignored: the override wins")
    found = discover(tmp_path / "pkg" / "sub")
    assert [f.text for f in found] == ["root rules", "pkg rules", "override"]
    capped = discover(tmp_path / "pkg", budget=12)
    assert capped[0].text == "root rules" and capped[1].truncated
