from django.urls import path

from reflectlab.annotations import views

app_name = "annotations"
urlpatterns = [
    path("traces/<int:trace_id>/annotation/save", views.annotation_save_view, name="save"),
    path("traces/<int:trace_id>/annotation/submit", views.annotation_submit_view, name="submit"),
    path(
        "traces/<int:trace_id>/annotation/regenerate",
        views.annotation_regenerate_view,
        name="regenerate",
    ),
]
