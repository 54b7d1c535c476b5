"""The run ledger: every run, event by event, in a plain SQLite database anyone can query."""
