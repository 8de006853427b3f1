from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "reflectlab.runs"
    label = "runs"
