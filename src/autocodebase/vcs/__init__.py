"""Git: snapshots of the working tree for diffs and undo, commits with provenance."""
