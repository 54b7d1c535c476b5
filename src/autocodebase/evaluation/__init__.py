"""Evaluation on SWE-bench-format tasks: checkouts, environments, the official grading, runs
spread over a local pool or a Ray cluster, and a report that can be resumed and re-graded."""
