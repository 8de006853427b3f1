from django.urls import path

from reflectlab.exports import views

app_name = "exports"
urlpatterns = [
    path("projects/<int:project_id>/exports/", views.export_list, name="list"),
    path("projects/<int:project_id>/exports/new", views.export_create, name="create"),
    path("projects/<int:project_id>/exports/<int:export_id>/", views.export_detail, name="detail"),
    path(
        "projects/<int:project_id>/exports/<int:export_id>/download",
        views.export_download,
        name="download",
    ),
    path(
        "projects/<int:project_id>/exports/<int:export_id>/cancel",
        views.export_cancel,
        name="cancel",
    ),
]
