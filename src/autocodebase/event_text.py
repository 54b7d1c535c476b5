"""Events said in words: the one-line descriptions the terminal, `acb runs show` and the
dashboard share, so a verdict reads the same wherever a person meets it."""

from __future__ import annotations

from typing import Any

PLAN_MARKS = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}


def summarize_call(name: str, arguments: dict[str, Any] | None) -> str:
    """One line saying what a tool call will do."""
    if arguments is None:
        return "(malformed arguments)"
    if name == "shell":
        return str(arguments.get("command", ""))
    if name == "read_file":
        span = ""
        if arguments.get("start_line") or arguments.get("end_line"):
            span = f":{arguments.get('start_line') or 1}-{arguments.get('end_line') or ''}"
        return f"{arguments.get('path', '')}{span}"
    if name == "search":
        where = arguments.get("path") or "."
        glob = f" ({arguments['glob']})" if arguments.get("glob") else ""
        return f"/{arguments.get('pattern', '')}/ in {where}{glob}"
    if name == "apply_patch":
        files = [
            line.split(":", 1)[1].strip()
            for line in str(arguments.get("patch", "")).splitlines()
            if line.startswith(("*** Add File:", "*** Update File:", "*** Delete File:"))
        ]
        return ", ".join(files)
    return ""


def format_tokens(usage: dict[str, int]) -> str:
    fresh, answer = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    if not fresh and not answer:
        # Some servers (llama.cpp's, scripted cassettes) report no usage; zero would be a lie.
        return "tokens not reported"
    return f"{fresh:,} in / {answer:,} out tokens"


def count(number: int, noun: str) -> str:
    """`1 step`, `2 steps`, `0 steps`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def format_cost(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"${cost:.4f}"


def describe_git(event: dict[str, Any]) -> tuple[str, bool]:
    """What happened to the run's changes in git, and whether all of them are committed: a
    change left in the working tree is said in words, with how to take it back."""
    left = event.get("left_uncommitted") or []
    listed = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    if event.get("commit"):
        subject = (event.get("message") or "").splitlines()[0] if event.get("message") else ""
        on = f" on {event['branch']}" if event.get("branch") else ""
        text = f"⎇ committed {event['commit'][:12]}{on}: {subject}".rstrip(": ")
        if left:
            text += f"\n⎇ left uncommitted in the working tree: {listed}"
        return text, not left
    if left:
        return (
            f"⎇ not committed: {count(len(left), 'file')} changed in the working tree ({listed}); "
            f"acb undo {event['run_id']} takes them back",
            False,
        )
    return "⎇ nothing to commit", True


def describe_tests_checked(event: dict[str, Any]) -> tuple[str, bool]:
    """One line for the test gate's verdict, and whether it is good news."""
    verdict, failed, old = event["verdict"], event["failed"], event["preexisting"]
    chosen = event.get("selected") or []
    scope = f" in {len(chosen)} test files chosen for the change" if chosen else ""
    if verdict == "passed":
        return f"◆ tests pass ({event['passed']} passed{scope})", True
    if verdict == "preexisting":
        return f"◆ tests: only the {len(old)} failure(s) that predate the run remain", True
    new = len(failed) - len(old)
    if verdict == "sent-back":
        return f"◆ tests: {new} new failure(s) sent back to the model", False
    if verdict == "gave-up":
        return f"◆ tests: {new} new failure(s) remain; the run will not claim success", False
    if verdict == "timed-out":
        return f"◆ tests timed out after {event.get('duration_s', 0):.0f} s: not verified", False
    return f"◆ tests {verdict}", True


def describe_review_checked(event: dict[str, Any]) -> tuple[str, bool]:
    """One line for the review gate's verdict, and whether it is good news (not when a gate
    failed to look: its silence is not a pass)."""
    line, good = _review_verdict(event)
    failed = event.get("failed_gates") or []
    if failed:
        tools = ", ".join(str(why).split(" ", 1)[0] for why in failed)
        return f"{line}; {tools} failed and did not check it", False
    return line, good


def _review_verdict(event: dict[str, Any]) -> tuple[str, bool]:
    count, blocking = len(event["findings"]), event["blocking"]
    verdict = event["verdict"]
    if verdict == "passed":
        return "◆ review: no findings on the change", True
    if verdict == "passed-with-findings":
        return f"◆ review: {count} finding(s) below {event['block_on']}, recorded", True
    if verdict == "sent-back":
        return f"◆ review: {blocking} blocking finding(s) sent back to the model", False
    return f"◆ review: {blocking} blocking finding(s) remain; nothing will be committed", False
