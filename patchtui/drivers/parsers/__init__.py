"""Pure parsers of package-manager and host output.

Each module turns the text one family's commands print into the result types
of ``patchtui.drivers.base``. They never run commands or touch the network,
so they are tested directly on real captured outputs in ``tests/data``.
"""

from __future__ import annotations

from patchtui.drivers.parsers.facts import FactsParseError, parse_facts

__all__ = ["FactsParseError", "parse_facts"]
