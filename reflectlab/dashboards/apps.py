from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "reflectlab.dashboards"
    label = "dashboards"
