from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "reflectlab.core"
    label = "core"
