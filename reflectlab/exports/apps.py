from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "reflectlab.exports"
    label = "exports"
