"""What a front end may change in a running session, through `RunSession`'s own operations
(issue 17): switching the model switches its price and the model that writes commit messages
too; approvals, notes and a resumed conversation go through the session, not its insides."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocodebase.agent.runner import RunRequest, RunSession
from autocodebase.config import load_settings
from autocodebase.errors import AcbError
from autocodebase.models.base import Usage
from autocodebase.models.cassette import ScriptedModel
from autocodebase.models.pricing import price_for
from autocodebase.tools import hidden_for
from tests.helpers import reply


def session(repo: Path) -> RunSession:
    model = ScriptedModel([reply("ok")], "scripted/t")
    return RunSession(RunRequest("look around", repo, load_settings(repo), model))


def test_switching_the_model_switches_its_price_and_commit_messages(
    wordstats_repo: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    with session(wordstats_repo) as running:
        before = running.agent.price
        running.agent.account(Usage(input_tokens=1_000_000, output_tokens=0))
        spent = running.agent.cost
        assert running.switch_model("openai/gpt-4o") == "openai/gpt-4o"
        price = price_for("openai/gpt-4o")
        assert price is not None and running.agent.price == price != before
        assert running.git is not None and running.git.model.name == "openai/gpt-4o"
        running.agent.account(Usage(input_tokens=1_000_000, output_tokens=0))
        assert running.agent.cost == pytest.approx((spent or 0.0) + price.input)
        with pytest.raises(AcbError):
            running.switch_model("nonsense-without-provider")
        assert running.agent.model.name == "openai/gpt-4o"
        running.switch_model("openai/some-model-nobody-priced")
        assert running.agent.price is None and running.agent.cost is None
        events = [
            row[0]
            for row in running.connection.execute(
                "SELECT payload FROM events WHERE run_id = ? AND type = 'model_switched'",
                (running.run_id,),
            )
        ]
    assert len(events) == 2
    assert '"previous": "scripted/t"' in events[0] and '"priced": true' in events[0]


def test_approvals_and_notes_go_through_the_session(
    wordstats_repo: Path, isolated_home: Path
) -> None:
    with session(wordstats_repo) as running:
        running.set_approvals("untrusted")
        assert running.gate.approvals == running.approvals == "untrusted"
        assert running.agent.toolbox.hidden == hidden_for("untrusted")
        running.tell("the user undid your last turn")
        assert running.agent.messages[-1].content == "[acb: the user undid your last turn]"
