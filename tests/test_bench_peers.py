"""A smoke test of the side-by-side harness with acb alone (the peers are downloads, kept out of
CI): the scripted ten-step trajectory really runs, and every figure is measured."""

from __future__ import annotations

import sys

import pytest
from bench.peers.run import one_run, render

pytestmark = pytest.mark.slow  # end-to-end: `make test-slow`, not `make test`


def test_the_harness_runs_acb_through_the_trajectory() -> None:
    sample = one_run("acb", sys.executable, lambda text: len(text.split()))
    assert sample.ok, sample.note
    assert sample.steps == 10, "nine commands and the end, one request each"
    assert sample.overhead_ms is not None and sample.overhead_ms > 0
    assert 0 < sample.first_request_s < sample.wall_s
    assert len(sample.tokens) == 10 and sample.tokens == sorted(sample.tokens), "history grows"
    assert sample.first_bytes > 1000 and sample.peak_rss_mb > 20
    figures = {
        "version": "acb 0.1.0",
        "help_s": 0.05,
        "first_request_s": sample.first_request_s,
        "wall_s": sample.wall_s,
        "overhead_ms": sample.overhead_ms,
        "steps": sample.steps,
        "first_tokens": sample.tokens[0],
        "total_tokens": sum(sample.tokens),
        "tokens_per_step": sample.tokens,
        "first_bytes": sample.first_bytes,
        "peak_rss_mb": sample.peak_rss_mb,
    }
    section = render({"acb": figures}, 1)
    assert "| tool | acb 0.1.0 |" in section
    assert "| median | 0.050 (1.0x) |" in section
    assert "leads" not in section, "a tool alone leads nothing"
    assert "acb's own goals: cold start 0.050 s" in section
