"""Quality gates: tests (detection, running, results), later test generation and review."""
