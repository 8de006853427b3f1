from django.apps import AppConfig


class PromptsConfig(AppConfig):
    name = "reflectlab.prompts"
    label = "prompts"
