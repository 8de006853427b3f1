from django.urls import path

from reflectlab.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path(
        "projects/<int:project_id>/dashboards/",
        views.dashboard,
        {"page": "reflection"},
        name="reflection",
    ),
    path(
        "projects/<int:project_id>/dashboards/effort/",
        views.dashboard,
        {"page": "effort"},
        name="effort",
    ),
    path(
        "projects/<int:project_id>/dashboards/<slug:chart>.csv",
        views.chart_csv,
        {"page": "reflection"},
        name="reflection-csv",
    ),
    path(
        "projects/<int:project_id>/dashboards/effort/<slug:chart>.csv",
        views.chart_csv,
        {"page": "effort"},
        name="effort-csv",
    ),
]
