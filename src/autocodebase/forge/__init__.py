"""Forges (GitHub, GitLab): issues in, branches pushed, pull/merge requests and reviews out.

Each module has one job: `refs` reads issue and pull-request URLs, `tokens` finds the
credentials, `http` speaks REST with retries and one-line errors, `github` and `gitlab` are
the two APIs, `pr_body` writes what a pull request says about a run, `review_comments` places
review findings on the lines a forge will accept. Nothing here starts a run: `acb resolve`
(`cli/resolve_cmd.py`) does, through the same session API as `acb exec`.
"""
