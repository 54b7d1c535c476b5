#!/usr/bin/env bash
# The main job, offline: acb exec on a fresh copy of examples/wordstats, driven by a scripted
# cassette (written by us, not recorded from a model). The loop, the edits, the test run and the
# ledger are all real; only the model's words come from the script.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "acb demo: the model's side of every step below is a scripted session written by us (no"
echo "model is called); the loop, sandbox, edits, tests, review, git and ledger run for real."
echo

work=.demo/wordstats
rm -rf "$work"
mkdir -p .demo
cp -r examples/wordstats "$work"
git -C "$work" init -q
# The demo repository's own identity: acb commits as the human who runs it, never as itself.
git -C "$work" config user.name "Demo User"
git -C "$work" config user.email "demo@example.invalid"
git -C "$work" add -A
git -C "$work" commit -qm "wordstats as shipped"

task="Add top_words(text, n) to wordstats: the n most frequent words as (word, count) pairs, \
case-insensitive, punctuation ignored, ties broken alphabetically. Add tests; keep the suite green."

echo "== acb exec on $work (model: replay of examples/cassettes/wordstats-top-words.jsonl)"
acb exec "$task" -C "$work" --model replay:examples/cassettes/wordstats-top-words.jsonl
# The exec run's id, for its story at the end (later commands record runs of their own).
exec_run=$(acb runs list -n 1 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')

echo
echo "== what acb committed (git log in $work)"
git -C "$work" log -1 --stat
echo
echo "== who wrote wordstats/core.py: acb blame"
acb blame "$work/wordstats/core.py" | sed -n '20,32p'
echo
echo "== acb tests: generate tests for the untested wordstats/stats.py (model: replay of"
echo "   examples/cassettes/wordstats-tests.jsonl); each candidate must pass 3 runs and raise"
echo "   coverage or kill a mutant"
acb tests wordstats/stats.py --mutation --max-rounds 1 -C "$work" \
  --model replay:examples/cassettes/wordstats-tests.jsonl
echo
echo "== acb review of the top_words commit: the static gates, then a two-pass model review"
echo "   (model: replay of examples/cassettes/wordstats-review.jsonl)"
acb review HEAD~1 -C "$work" --model replay:examples/cassettes/wordstats-review.jsonl
echo
echo "== acb ci: a GitHub Actions workflow from the project's files, validated (schema, zizmor)"
echo "   and its install and test steps run in the sandbox on a clean copy before it is written"
acb ci -C "$work" --docs
git -C "$work" add -A && git -C "$work" commit -qm "ci: GitHub Actions workflow written and proven by acb ci"
echo
echo "== acb deploy: release HEAD behind a loopback proxy (blue/green; .acb/deploy.toml)"
acb deploy -C "$work"
port=$(sed -n 's/^port = //p' "$work/.acb/deploy.toml" | head -n 1)
echo "curl http://127.0.0.1:$port/count?text=hello+deployed+world -> $(curl -s "http://127.0.0.1:$port/count?text=hello+deployed+world")"
for _ in $(seq 40); do curl -s "http://127.0.0.1:$port/count?text=some+traffic" > /dev/null; done
acb deploy -C "$work" --status
acb monitor -C "$work" --window 1m
acb deploy -C "$work" --stop
acb deploy -C "$work" --env onprem   # target = "compose": Dockerfile + compose.yaml, validated
acb deploy -C "$work" --docs         # docs/deploy.md: every environment, its commands checked
echo
echo "== undo is one command away: acb undo (not run here)"
echo
echo "== the acb exec run as the ledger recorded it: acb runs show $exec_run"
acb runs show "$exec_run" | sed -n '1,40p'
echo "   ... (acb runs show $exec_run --full prints everything; acb runs list shows every run)"
echo
echo "== what next"
echo "   - your own repository: acb exec \"your task\" -C PATH --model PROVIDER/MODEL"
echo "     (any OpenAI-compatible or Anthropic endpoint: README, 'Using a live model'), or acb for"
echo "     a conversation"
echo "   - the demo project is in $work: acb undo -C $work takes back acb's last run there"
echo "   - .venv/bin/acb serve, then http://127.0.0.1:8765/: these runs, their diffs and verdicts,"
echo "     and the deployment's traffic chart in a browser"
echo "   - make test runs the test suite"
