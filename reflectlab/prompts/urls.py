from django.urls import path

from reflectlab.prompts import views

app_name = "prompts"
urlpatterns = [
    path("projects/<int:project_id>/prompts/", views.prompt_list, name="list"),
    path("projects/<int:project_id>/import/<str:kind>/", views.import_create, name="import"),
    path(
        "projects/<int:project_id>/imports/<int:job_id>/",
        views.import_detail,
        name="import-detail",
    ),
]
