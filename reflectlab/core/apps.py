from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "reflectlab.core"
    label = "core"

    def ready(self) -> None:
        # Make our Celery app the current one, so @shared_task binds to it in
        # the web process as well as in workers (Celery's Django guidance).
        from reflectlab.celery import app  # noqa: F401
        from reflectlab.core import checks  # noqa: F401  (registers the deploy checks)
