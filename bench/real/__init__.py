"""acb end to end on real SWE-bench Lite bugs, default settings (`make bench-real`)."""
