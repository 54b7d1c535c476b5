"""Runs inside Aider's own venv (never imported by acb): drives `aider.repomap.RepoMap` the way
Aider's chat does, for the context benchmark.

    python aider_worker.py build ROOT FILES_JSON   # one map build; prints timing JSON
    python aider_worker.py rank                    # JSON lines: {root, files, query} -> ranking

`rank` uses Aider's own mention detection (`Coder.get_file_mentions`, `get_ident_mentions`) to
personalise `RepoMap.get_ranked_tags`, and reports files in the order the map would show them.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from types import SimpleNamespace

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def make_map(root: str):  # type: ignore[no-untyped-def]
    from aider.io import InputOutput
    from aider.models import Model
    from aider.repomap import RepoMap

    io = InputOutput(pretty=False, yes=True, fancy_input=False)
    return RepoMap(map_tokens=1024, root=root, main_model=Model("gpt-4o-mini"), io=io)


def build(root: str, files_json: str) -> None:
    with open(files_json) as listing:
        files = [os.path.join(root, f) for f in json.load(listing)]
    repo_map = make_map(root)
    started = time.perf_counter()
    text = repo_map.get_repo_map(chat_files=[], other_files=files) or ""
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "map_chars": len(text)}))


def rank() -> None:
    from aider.coders.base_coder import Coder

    # Aider's InputOutput prints progress to stdout: keep stdout for our answers only.
    answers, sys.stdout = sys.stdout, sys.stderr
    maps = {}
    for line in sys.stdin:
        request = json.loads(line)
        root, files, query = request["root"], request["files"], request["query"]
        if root not in maps:
            maps[root] = make_map(root)
        repo_map = maps[root]
        started = time.perf_counter()
        fake_coder = SimpleNamespace(get_all_relative_files=lambda files=files: files)
        mentioned_files = Coder.get_file_mentions(fake_coder, query, ignore_current=True)
        mentioned_idents = Coder.get_ident_mentions(None, query)
        tags = repo_map.get_ranked_tags(
            chat_fnames=[],
            other_fnames=[os.path.join(root, f) for f in files],
            mentioned_fnames=mentioned_files,
            mentioned_idents=mentioned_idents,
        )
        ranked: list[str] = []
        seen: set[str] = set()
        for tag in tags:
            if tag[0] not in seen:
                seen.add(tag[0])
                ranked.append(tag[0])
            if len(ranked) >= 50:
                break
        answer = {"ranked": ranked, "seconds": time.perf_counter() - started}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[3])
    else:
        rank()
