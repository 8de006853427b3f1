"""``manage.py analyze --input traces.jsonl --output analysis.jsonl`` — no database needed."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reflectlab.analysis.io import analyze_jsonl
from reflectlab.prompts.management.commands.import_file import parse_mapping

# Trace-import mapping targets -> the analysis reader's field names.
TARGETS = {
    "external_id": "id",
    "reference_answer": "reference",
    "response": "response",
    "reasoning": "reasoning",
    "finish_reason": "finish_reason",
    "logprobs": "logprobs",
}


class Command(BaseCommand):
    help = (
        "Analyse a JSONL file of traces into a JSONL file of analyses (steps, cues, "
        "candidates, reflections, metrics). Reads id/reference_answer/response by default."
    )
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="JSONL file, or - for stdin.")
        parser.add_argument("--output", required=True, help="JSONL file, or - for stdout.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="TARGET=SOURCE",
            help=f"Field mapping as in trace import; targets: {', '.join(TARGETS)}.",
        )

    def handle(self, *args, **options):
        mapping = {}
        for target, source in parse_mapping(options["map"]).items():
            if target not in TARGETS:
                raise CommandError(f"Unknown target {target!r}; use one of {', '.join(TARGETS)}.")
            mapping[TARGETS[target]] = source
        source = options["input"]
        if source != "-" and not Path(source).is_file():
            raise CommandError(f"No such file: {source}")
        with ExitStack() as stack:
            in_stream = (
                sys.stdin.buffer if source == "-" else stack.enter_context(open(source, "rb"))
            )
            out_stream = (
                sys.stdout.buffer
                if options["output"] == "-"
                else stack.enter_context(open(options["output"], "wb"))
            )
            counts = analyze_jsonl(in_stream, out_stream, mapping)
        for error in counts.errors[:50]:
            self.stderr.write(error)
        self.stderr.write(f"{counts.written} analysed, {counts.failed} failed of {counts.read}")
        if counts.failed and not counts.written:
            raise CommandError("No line could be analysed.")
