"""The dashboard's routes: server-rendered pages (Jinja, autoescaped) and the JSON API.

Read-only by construction: every route is a GET, the ledger is opened `mode=ro`, and nothing
here starts, changes or deletes a run. A running run's page asks for its new timeline entries
every second and a half (a small fragment of HTML), so it needs no build step and no
websocket, and works through any proxy.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from autocodebase import __version__
from autocodebase.event_text import format_cost, format_tokens
from autocodebase.redact import Redactor
from autocodebase.serve.autopilot import autopilot_workspaces
from autocodebase.serve.deployments import deployments
from autocodebase.serve.guard import Guard
from autocodebase.serve.queries import (
    OUTCOMES,
    SHOWN_EVENTS,
    VERIFICATIONS,
    BadFilter,
    Ledger,
    RunFilter,
)
from autocodebase.serve.reports import read_report
from autocodebase.serve.timeline import highlight_diff, timeline, usage_series

STATIC = Path(__file__).parent / "static"
LIVE_POLL_MS = 1500
AUTOPILOT_REFRESH_S = 5
"""The autopilot page reloads itself this often while a run or a release is under way."""


@dataclass
class Settings:
    ledger: Path
    token: str | None = None
    """Required on every request when set (any bind but loopback)."""
    allowed_hosts: set[str] | None = None
    """The Host headers accepted (loopback binds); None: any (the token protects)."""
    evaluations: list[Path] = field(default_factory=list)
    """Output folders of `acb eval` / `acb batch` whose report.json the evaluations page shows."""


def _when(ts: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _run_tokens(run: dict[str, Any]) -> str:
    used = {key: run.get(key) or 0 for key in ("input_tokens", "output_tokens")}
    return format_tokens(used)


def _json_block(data: Any) -> Markup:
    """Data for the page's script, in a block the browser never executes; `<` escaped so that
    no value can close the block."""
    text = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - JSON with every markup character escaped


def create_app(settings: Settings) -> Any:
    ledger = Ledger(settings.ledger)
    # The server's own secrets and its token (a secret by its name) are hidden on every page.
    token = {"ACB_SERVE_TOKEN": settings.token} if settings.token else {}
    redactor = Redactor.from_environment({**os.environ, **token})
    templates = Environment(
        loader=PackageLoader("autocodebase.serve", "templates"),
        autoescape=select_autoescape(default=True),
    )
    templates.globals.update(
        when=_when,
        cost=format_cost,
        tokens=_run_tokens,
        version=__version__,
        json_block=_json_block,
        poll_ms=LIVE_POLL_MS,
    )

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values), status_code=status)

    def not_found(what: str) -> HTMLResponse:
        return page("error.html", 404, title="not found", message=what)

    def clean(record: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = redactor.value(record)
        return cleaned

    def runs_page(request: Request) -> Response:
        try:
            chosen = RunFilter.from_query(dict(request.query_params))
        except BadFilter as exc:
            return page("error.html", 400, title="bad filter", message=str(exc))
        listing = ledger.runs(chosen)
        listing.runs = [clean(r) for r in listing.runs]
        listing.repositories = [redactor.text(r) for r in listing.repositories]
        listing.models = [redactor.text(m) for m in listing.models]
        return page(
            "runs.html",
            listing=listing,
            outcomes=OUTCOMES,
            verifications=VERIFICATIONS,
            title="runs",
        )

    def run_page(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record = ledger.run(run_id)
        if record is None:
            return not_found(f"no run {run_id}")
        events, left_out = ledger.events_shown(run_id)
        record = clean(record)
        return page(
            "run.html",
            run=record,
            entries=timeline(events, redactor),
            left_out=left_out,
            diff=highlight_diff(record["diff"]) if record.get("diff") else None,
            chart=usage_series(events),
            last_seq=events[-1]["seq"] if events else -1,
            live=record["finished_at"] is None,
            title=f"run {run_id[:12]}",
        )

    def run_timeline(request: Request) -> Response:
        """The entries after `?after=SEQ`, as HTML, for a live page to append."""
        run_id = request.path_params["run_id"]
        if ledger.run(run_id) is None:
            return not_found(f"no run {run_id}")
        try:
            after = int(request.query_params.get("after", "-1"))
        except ValueError:
            return page("error.html", 400, title="bad request", message="after is a number")
        events = ledger.events(run_id, after)[: 2 * SHOWN_EVENTS]
        results = [e["call_id"] for e in events if e["type"] == "tool_result"]
        entries = timeline(events, redactor, ledger.tool_calls(run_id, results))
        last = events[-1]["seq"] if events else after
        finished = any(e["type"] == "run_finished" for e in events)
        response = page("entries.html", entries=entries)
        response.headers["x-acb-last-seq"] = str(last)
        response.headers["x-acb-finished"] = "1" if finished else "0"
        return response

    def file_page(request: Request) -> Response:
        from autocodebase.vcs.blame import blame
        from autocodebase.vcs.git import GitError

        repository = request.query_params.get("repository", "")
        path = request.query_params.get("path", "")
        known = set(ledger.runs(RunFilter(per_page=1)).repositories)
        if repository not in known:
            return page("error.html", 404, title="not found", message="no acb run worked there")
        relative = PurePosixPath(path)
        if not path or "\0" in path or relative.is_absolute() or ".." in relative.parts:
            return page("error.html", 404, title="not found", message="no such file there")
        try:
            # As committed at HEAD, from git's objects: the working tree (which the model's
            # commands can change, a symlink swapped in) is never what is read.
            lines = blame(Path(repository), str(relative), revision="HEAD")
        except GitError:
            return page("error.html", 404, title="not found", message="no such file at HEAD")
        return page(
            "file.html",
            repository=redactor.text(repository),
            path=redactor.text(path),
            lines=[redactor.value(asdict(line)) for line in lines],
            title="provenance",
        )

    def deployments_page(_request: Request) -> Response:
        found = deployments(ledger.releases())
        for entry in found:
            entry.workspace = redactor.text(entry.workspace)
            entry.releases = redactor.value(entry.releases)
            entry.markers = redactor.value(entry.markers)
        return page("deployments.html", deployments=found, title="deployments")

    def autopilot_page(_request: Request) -> Response:
        found = autopilot_workspaces(ledger.reading, redactor.value)
        refresh = AUTOPILOT_REFRESH_S if any(w.active for w in found) else None
        return page("autopilot.html", workspaces=found, refresh=refresh, title="autopilot")

    def api_autopilot(_request: Request) -> Response:
        found = autopilot_workspaces(ledger.reading, redactor.value)
        return JSONResponse({"workspaces": [asdict(w) for w in found]})

    def evaluations_page(_request: Request) -> Response:
        reports = [
            {"folder": redactor.text(str(folder)), "report": redactor.value(read_report(folder))}
            for folder in settings.evaluations
        ]
        return page("evaluations.html", reports=reports, title="evaluations")

    def api_runs(request: Request) -> Response:
        try:
            chosen = RunFilter.from_query(dict(request.query_params))
        except BadFilter as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        listing = ledger.runs(chosen)
        return JSONResponse(
            {
                "runs": [clean(r) for r in listing.runs],
                "total": listing.total,
                "page": chosen.page,
                "pages": listing.pages,
            }
        )

    def api_run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        record = ledger.run(run_id)
        if record is None:
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
        return JSONResponse({**clean(record), "events": redactor.value(ledger.events(run_id))})

    def api_releases(request: Request) -> Response:
        workspace = request.query_params.get("workspace", "")
        return JSONResponse({"releases": redactor.value(ledger.releases(workspace))})

    routes = [
        Route("/", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/timeline", run_timeline),
        Route("/file", file_page),
        Route("/autopilot", autopilot_page),
        Route("/deployments", deployments_page),
        Route("/evaluations", evaluations_page),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/releases", api_releases),
        Route("/api/autopilot", api_autopilot),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    return Guard(app, settings.token, settings.allowed_hosts)
