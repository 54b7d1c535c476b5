"""Review: deterministic analysers on the changed lines of a diff, in one finding shape."""
