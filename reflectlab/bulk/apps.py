from django.apps import AppConfig


class BulkConfig(AppConfig):
    name = "reflectlab.bulk"
    label = "bulk"
