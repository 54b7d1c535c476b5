"""Delivery: CI pipelines and deployments that acb generates, proves and watches."""
