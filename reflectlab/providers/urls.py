from django.urls import path

from reflectlab.providers import views

app_name = "providers"
urlpatterns = [
    path("projects/<int:project_id>/models/", views.config_list, name="list"),
    path("projects/<int:project_id>/models/new", views.config_create, name="create"),
    path("models/<int:config_id>/", views.config_edit, name="edit"),
    path("models/<int:config_id>/test", views.config_test, name="test"),
]
