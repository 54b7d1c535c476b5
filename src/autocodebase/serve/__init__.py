"""`acb serve`: a read-only web dashboard over the run ledger and the deployments."""
