"""patchtui: patch fleets of Linux hosts over SSH from a terminal."""

from __future__ import annotations

__version__ = "0.1.0"
