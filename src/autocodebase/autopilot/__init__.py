"""`acb autopilot`: a queue of tasks worked one by one, each through a run, its gates and a
merge decision, with every decision kept in the ledger (docs/autopilot.md).

This package never starts a run itself: the command hands it a `TaskRunner` (the same
machinery as `acb resolve`), so nothing here reaches into the loop.
"""
