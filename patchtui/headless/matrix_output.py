"""``patch --dry-run --format matrix``: the package-by-host preview, headless.

The dry run itself is the ordinary PatchJob (so baselines, holds and excludes are
applied by the engine); this printer only keeps each host's planned changes and, at
the end, prints them grouped (patchtui.engine.matrix).
"""

from __future__ import annotations

import argparse

from patchtui.engine.events import Event
from patchtui.engine.matrix import matrix_from_results, matrix_lines, matrix_table_rows
from patchtui.errors import ConfigError
from patchtui.headless.output import emit_json, event_to_json, render_table
from patchtui.headless.patch_command import PatchPrinter, patch_summary_line


def check_format(args: argparse.Namespace) -> None:
    """Before any question or host: a matrix previews a dry run, nothing else."""
    if getattr(args, "format", None) == "matrix" and not args.dry_run:
        raise ConfigError("--format matrix previews a dry run: add --dry-run")


class MatrixPrinter(PatchPrinter):
    """Records the run's events quietly; the report is the matrix and the summary."""

    def __call__(self, event: Event) -> None:
        self.collect(event)

    def print_report(self) -> None:
        matrix = matrix_from_results(self.finished.values())
        if self.as_json:
            for line in matrix.to_json():
                emit_json(line)
            if self.finish is not None:
                summary = event_to_json(self.finish, self.scans)
                if summary is not None:
                    emit_json(summary)
            return
        print(matrix_lines(matrix)[0])
        print(render_table(["COUNT", "HOSTS", "PACKAGES"], matrix_table_rows(matrix)))
        if self.finish is not None:
            print(patch_summary_line(self.finish))


def printer_for(args: argparse.Namespace) -> PatchPrinter:
    if getattr(args, "format", None) == "matrix":
        return MatrixPrinter(as_json=args.json)
    return PatchPrinter(as_json=args.json)
