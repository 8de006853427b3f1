from django.urls import path

from reflectlab.runs import views

app_name = "runs"
urlpatterns = [
    path("projects/<int:project_id>/runs/", views.run_list, name="list"),
    path("projects/<int:project_id>/runs/new", views.run_create, name="create"),
    path("runs/<int:run_id>/", views.run_detail, name="detail"),
    path("runs/<int:run_id>/cancel", views.run_cancel, name="cancel"),
]
