"""Runs inside aider's own virtualenv: applies SEARCH/REPLACE tasks with aider's matcher.

Reads one JSON task per line on stdin ({original, search, replace}); writes one JSON result per
line ({content} or {content: null}). Only calls aider's code; nothing of it is copied here.
"""

import json
import sys

from aider.coders.editblock_coder import replace_most_similar_chunk

for line in sys.stdin:
    task = json.loads(line)
    try:
        content = replace_most_similar_chunk(task["original"], task["search"], task["replace"])
    except Exception as exc:  # aider raises on some malformed blocks; that is a refusal
        content = None
        sys.stderr.write(f"aider error: {exc!r}\n")
    sys.stdout.write(json.dumps({"content": content}) + "\n")
    sys.stdout.flush()
