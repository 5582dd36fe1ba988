"""Headless store: TinyDB."""
