from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "reflectlab.traces"
    label = "traces"
