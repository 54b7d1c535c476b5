"""Rebuilding a conversation from ledger events for `acb resume`."""

from __future__ import annotations

from autocodebase.agent.history import rebuild


def request(*messages: dict) -> dict:
    return {"type": "model_request", "new_messages": list(messages)}


def response(content: str, *calls: tuple[str, str]) -> dict:
    return {
        "type": "model_response",
        "content": content,
        "tool_calls": [{"id": i, "name": n, "arguments": "{}"} for i, n in calls],
    }


def test_rebuild_answers_open_calls_and_follows_resends() -> None:
    events = [
        request(
            {"role": "system", "content": "old system"}, {"role": "user", "content": "task one"}
        ),
        response("", ("c1", "shell"), ("c2", "read_file")),
        {"type": "tool_result", "call_id": "c1", "output": "ran", "is_error": False},
        {"type": "plan_updated", "steps": [{"step": "a", "status": "pending"}]},
        {
            "type": "approval",
            "decision": "approve-program-session",
            "command": "npm test",
            "escalated": False,
        },
        {"type": "approval", "decision": "approve-once", "command": "rm x", "escalated": False},
    ]
    history = rebuild(events)
    assert history.task == "task one"
    assert [m.role for m in history.messages] == ["user", "assistant", "tool", "tool"]
    assert history.messages[2].content == "ran" and not history.messages[2].is_error
    assert history.messages[3].content == "interrupted" and history.messages[3].is_error
    assert history.plan == [{"step": "a", "status": "pending"}]
    assert [(a.match, a.value, a.scope) for a in history.session_approvals] == [
        ("program", "npm", "session")
    ]

    compacted = [
        *events[:2],
        request({"role": "system", "content": "s"}, {"role": "user", "content": "[acb] compacted"}),
        response("fine"),
    ]
    again = rebuild(compacted)
    assert [m.content for m in again.messages] == ["[acb] compacted", "fine"]
    assert again.task == "task one"
