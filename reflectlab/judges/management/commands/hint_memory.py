"""``manage.py hint_memory PROJECT``: index the project's accepted hints for the
hint memory (accepting a hint in review does it as it happens; this catches up
after imports or restores)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reflectlab.judges.memory import hint_memory_refresh
from reflectlab.projects.models import Project


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")

    def handle(self, *args, project, **options):
        found = Project.objects.filter(pk=int(project)) if project.isdigit() else None
        project_obj = (found or Project.objects.filter(name=project)).first()
        if project_obj is None:
            raise CommandError(f"No project {project!r}.")
        added = hint_memory_refresh(project=project_obj)
        self.stdout.write(f"{added} hints added to the memory of {project_obj}.")
