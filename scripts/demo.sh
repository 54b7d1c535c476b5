#!/usr/bin/env bash
# The main job, offline: acb exec on a fresh copy of examples/wordstats, driven by a scripted
# cassette (written by us, not recorded from a model). The loop, the edits, the test run and the
# ledger are all real; only the model's words come from the script.
set -euo pipefail
cd "$(dirname "$0")/.."

work=.demo/wordstats
rm -rf "$work"
mkdir -p .demo
cp -r examples/wordstats "$work"
git -C "$work" init -q
git -C "$work" add -A
git -C "$work" -c user.name=demo -c user.email=demo@example.invalid commit -qm "wordstats as shipped"

task="Add top_words(text, n) to wordstats: the n most frequent words as (word, count) pairs, \
case-insensitive, punctuation ignored, ties broken alphabetically. Add tests; keep the suite green."

echo "== acb exec on $work (model: replay of examples/cassettes/wordstats-top-words.jsonl)"
acb exec "$task" -C "$work" --model replay:examples/cassettes/wordstats-top-words.jsonl

echo
echo "== what changed (git status in $work)"
git -C "$work" status --short
echo
echo "== the run as the ledger recorded it: acb runs show last"
acb runs show last | sed -n '1,40p'
echo "   ... (acb runs show last --full prints everything)"
