"""Compliance policy and evaluation: pure functions; report renderers."""
