from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "reflectlab.annotations"
    label = "annotations"
