from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "reflectlab.projects"
    label = "projects"
