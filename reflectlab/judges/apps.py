from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "reflectlab.judges"
    label = "judges"
    verbose_name = "Judges and suggestions"
