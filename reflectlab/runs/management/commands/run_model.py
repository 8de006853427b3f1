"""Run a model config over a project's prompts from the shell, with a progress bar.

    manage.py run_model --config 3 [--samples 4] [--q gsm8k | --prompt-ids 1,2,3]
    manage.py run_model --resume 17        # watch (or with --inline, drive) an existing run

By default the run goes to the Celery workers (queue ``models``) and this
command only watches it; ``--inline`` executes it in this process instead
(no worker needed — the same code path, threads and all).
"""

from __future__ import annotations

import threading
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from reflectlab.providers.models import ModelConfig
from reflectlab.runs import services
from reflectlab.runs.models import Run


class Command(BaseCommand):
    help = "Sample traces from a model config for a project's prompts (progress bar)."

    def add_arguments(self, parser):
        parser.add_argument("--config", type=int, help="ModelConfig id (its project is used).")
        parser.add_argument("--samples", type=int, default=1, help="Samples per prompt.")
        parser.add_argument("--q", default="", help="Only prompts whose text or id contains this.")
        parser.add_argument("--prompt-ids", default="", help="Comma-separated prompt ids.")
        parser.add_argument("--resume", type=int, help="An existing run id to watch/continue.")
        parser.add_argument(
            "--inline", action="store_true", help="Execute here instead of on the workers."
        )
        parser.add_argument("--no-wait", action="store_true", help="Enqueue and return.")

    def handle(self, *args, **options):
        if options["resume"]:
            run = Run.objects.filter(pk=options["resume"]).first()
            if run is None:
                raise CommandError(f"No run {options['resume']}.")
        else:
            run = self._create(options)
        self.stdout.write(f"Run {run.pk}: {run.items_total} generations with {run.model_config}.")
        if options["no_wait"] and not options["inline"]:
            return
        worker = None
        if options["inline"]:
            worker = threading.Thread(
                target=services.run_execute, kwargs={"run_id": run.pk}, daemon=True
            )
            worker.start()
        self._watch(run.pk)
        if worker is not None:
            worker.join()
        run.refresh_from_db()
        self.stdout.write(
            f"Run {run.pk} {run.state}: {run.items_done} done, {run.items_failed} failed, "
            f"{run.tokens_completion} completion tokens."
        )
        if run.error_summary:
            self.stdout.write(self.style.WARNING(run.error_summary))

    def _create(self, options) -> Run:
        config = ModelConfig.objects.select_related("project").filter(pk=options["config"]).first()
        if config is None:
            raise CommandError("Give --config with an existing model config id.")
        prompt_ids = None
        if options["prompt_ids"]:
            try:
                prompt_ids = [int(x) for x in options["prompt_ids"].split(",") if x.strip()]
            except ValueError:
                raise CommandError("--prompt-ids takes integers separated by commas.") from None
        try:
            # --inline must not also hand the run to a worker: create it outside on_commit.
            with transaction.atomic():
                run = services.run_create(
                    project=config.project,
                    model_config=config,
                    user=None,
                    samples_per_prompt=options["samples"],
                    prompt_ids=prompt_ids,
                    q=options["q"],
                    enqueue=not options["inline"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        return run

    def _watch(self, run_id: int) -> None:
        run = Run.objects.get(pk=run_id)
        with tqdm(total=run.items_total, unit="gen", desc=f"run {run_id}") as bar:
            while True:
                run.refresh_from_db()
                bar.n = run.items_finished
                bar.set_postfix(
                    failed=run.items_failed, tokens=run.tokens_completion, state=run.state
                )
                bar.refresh()
                if run.is_terminal:
                    break
                time.sleep(0.5)
