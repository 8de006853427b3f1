from __future__ import annotations

import io

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from reflectlab.core import demo
from reflectlab.projects.models import Project
from reflectlab.projects.services import project_create, project_update
from reflectlab.prompts.services import import_stream


class Command(BaseCommand):
    help = "Create the demo user and the demo project with a few traces (idempotent)."

    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=demo.DEMO_USERNAME)
        if created:
            user.set_password(demo.DEMO_PASSWORD)
            user.is_staff = user.is_superuser = True
            user.save()
        project = Project.objects.filter(name=demo.DEMO_PROJECT).first()
        if project is None:
            project = project_create(
                user=user,
                name=demo.DEMO_PROJECT,
                description="Hand-written reasoning traces to try the annotation loop on.",
            )
            project_update(project=project, guidelines=demo.GUIDELINES)
        data = b"".join(orjson.dumps(t) + b"\n" for t in demo.DEMO_TRACES)
        report = import_stream(
            project=project, stream=io.BytesIO(data), kind="traces", file_format="jsonl"
        )
        self.stdout.write(
            f"Demo project {project.pk}: {report['rows_written']} traces added "
            f"({report['rows_skipped']} already there)."
        )
        self.stdout.write(f"Log in as {demo.DEMO_USERNAME} / {demo.DEMO_PASSWORD}")
