"""The conversation's renderer: markdown, tool lines, diffs — and model text is never markup."""

from __future__ import annotations

import io

from rich.console import Console

from autocodebase.cli.chat_render import ChatRenderer


def render(*events: dict) -> str:
    out = io.StringIO()
    renderer = ChatRenderer(Console(file=out, width=100, force_terminal=False, color_system=None))
    for event in events:
        renderer(event)
    renderer.pause()
    return out.getvalue()


def test_text_tools_diff_and_totals() -> None:
    text = render(
        {"type": "model_request"},
        {"type": "assistant_delta", "text": "I will **fix** it [bold]now[/bold]."},
        {"type": "model_response"},
        {"type": "tool_call", "name": "shell", "arguments": {"command": "echo [red]x[/red]"}},
        {
            "type": "tool_result",
            "name": "shell",
            "is_error": False,
            "output": "[red]x[/red]\n[exit 0]",
            "data": {},
            "duration_s": 0.01,
        },
        {
            "type": "tool_call",
            "name": "apply_patch",
            "arguments": {"patch": "*** Update File: a.py"},
        },
        {
            "type": "tool_result",
            "name": "apply_patch",
            "is_error": False,
            "output": "patch applied",
            "data": {"diff": "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"},
            "duration_s": 0.0,
        },
        {
            "type": "turn_finished",
            "usage": {"input_tokens": 1200, "output_tokens": 30},
            "cost_usd": 0.0042,
        },
    )
    assert "I will fix it [bold]now[/bold]." in text  # markdown rendered, markup-looking text kept
    assert "▸ shell echo [red]x[/red]" in text and "[red]x[/red]" in text
    assert "+x = 2" in text and "-x = 1" in text
    assert "1,200 in / 30 out tokens · $0.0042" in text


def test_unreported_usage_is_not_shown_as_zero() -> None:
    from autocodebase.cli.render import format_tokens

    assert format_tokens({"input_tokens": 0, "output_tokens": 0}) == "tokens not reported"
    assert format_tokens({"input_tokens": 5, "output_tokens": 0}) == "5 in / 0 out tokens"


def test_a_ctrl_c_inside_the_spinners_start_does_not_crash_the_conversation() -> None:
    import io

    from rich.console import Console

    from autocodebase.cli.chat_render import ChatRenderer

    console = Console(file=io.StringIO(), force_terminal=True)
    renderer = ChatRenderer(console)
    status = console.status("thinking")
    # What a KeyboardInterrupt between rich's set_live and push_render_hook leaves behind.
    live = status._live
    console.set_live(live)
    live._started = True
    renderer.status = status
    renderer.on_turn_finished(
        {"outcome": "interrupted", "final_message": "", "steps": 1, "usage": {}, "cost_usd": None}
    )
    assert renderer.status is None
    renderer._wait("again")  # the console is free for the next spinner
    renderer._stop()
