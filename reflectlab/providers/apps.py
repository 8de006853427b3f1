from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "reflectlab.providers"
    label = "providers"
