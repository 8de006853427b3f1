"""Batch generation from the shell (OpenAI Batch JSONL; README "Running models").

manage.py run_batch create --config 3 [--samples 4] [--q gsm8k | --prompt-ids 1,2]
manage.py run_batch requests 17 -o run-17.jsonl     # for `vllm run-batch -i run-17.jsonl …`
manage.py run_batch import 17 results.jsonl         # idempotent
manage.py run_batch submit 17 [--poll 30]           # /v1/files + /v1/batches, then poll here
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from reflectlab.providers.models import ModelConfig
from reflectlab.runs import batch, batch_remote, services
from reflectlab.runs.models import Run


class Command(BaseCommand):
    help = "Create a batch run, write its OpenAI Batch requests, import results, or submit it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="A batch run over a config's project prompts.")
        create.add_argument("--config", type=int, required=True)
        create.add_argument("--samples", type=int, default=1)
        create.add_argument("--q", default="")
        create.add_argument("--prompt-ids", default="")
        requests = sub.add_parser("requests", help="Write the run's requests as JSONL.")
        requests.add_argument("run", type=int)
        requests.add_argument("-o", "--output", required=True)
        results = sub.add_parser("import", help="Import a batch results file.")
        results.add_argument("run", type=int)
        results.add_argument("file")
        submit = sub.add_parser("submit", help="Submit to the config's batch API and poll.")
        submit.add_argument("run", type=int)
        submit.add_argument("--poll", type=float, default=30.0, help="Seconds between polls.")

    def handle(self, *args, **o):
        if o["action"] == "create":
            self._create(o)
            return
        run = Run.objects.select_related("model_config").filter(pk=o["run"]).first()
        if run is None or run.mode != Run.Mode.BATCH:
            raise CommandError(f"Run {o['run']} is not a batch run.")
        try:
            if o["action"] == "requests":
                n = 0
                with Path(o["output"]).open("wb") as fh:
                    for line in batch.run_batch_requests(run=run):
                        fh.write(line)
                        n += 1
                self.stdout.write(f"{n} requests written to {o['output']}")
            elif o["action"] == "import":
                with Path(o["file"]).open("rb") as fh:
                    report = batch.run_batch_import_file(run=run, stream=fh)
                self._report(report)
            else:
                self._submit(run, o["poll"])
        except (ValueError, OSError, batch_remote.BatchError) as exc:
            raise CommandError(str(exc)) from None
        run.refresh_from_db()
        self.stdout.write(
            f"Run {run.pk} {run.state}: {run.items_done} done, {run.items_failed} failed "
            f"of {run.items_total}."
        )

    def _create(self, o) -> None:
        config = ModelConfig.objects.select_related("project").filter(pk=o["config"]).first()
        if config is None:
            raise CommandError(f"No model config {o['config']}.")
        try:
            ids = [int(x) for x in o["prompt_ids"].split(",") if x.strip()] or None
        except ValueError:
            raise CommandError("--prompt-ids takes integers separated by commas.") from None
        try:
            run = services.run_create(
                project=config.project,
                model_config=config,
                user=None,
                samples_per_prompt=o["samples"],
                prompt_ids=ids,
                q=o["q"],
                mode=Run.Mode.BATCH,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Batch run {run.pk}: {run.items_total} requests.")

    def _report(self, report) -> None:
        self.stdout.write(
            f"{report['rows_written']} traces written, {report['rows_failed']} failed, "
            f"{report['rows_skipped']} skipped, {report['rows_rejected']} lines rejected"
        )
        for error in report["errors"][:20]:
            self.stdout.write(self.style.WARNING(f"line {error['line']}: {error['error']}"))

    def _submit(self, run: Run, every: float) -> None:
        run = batch_remote.run_batch_submit(run_id=run.pk)
        self.stdout.write(f"Submitted as batch {run.batch_id}.")
        while True:
            status = batch_remote.run_batch_poll(run_id=run.pk)
            self.stdout.write(f"batch {run.batch_id}: {status}")
            if status == "completed" or status in batch_remote.TERMINAL_FAILURES:
                return
            time.sleep(every)
