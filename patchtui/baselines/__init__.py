"""Baselines: approved package versions per OS release, made from a staging run and promoted."""
