from django.urls import path

from reflectlab.projects import views

app_name = "projects"
urlpatterns = [
    path("projects/", views.project_list, name="list"),
    path("projects/<int:project_id>/", views.project_detail, name="detail"),
    path("projects/<int:project_id>/settings/", views.project_settings, name="settings"),
    path("projects/<int:project_id>/members/", views.member_list, name="members"),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    # Public: the token is the credential (projects/tokens.py).
    path("invites/<int:invite_id>/<str:token>/", views.invite_accept, name="invite-accept"),
]
