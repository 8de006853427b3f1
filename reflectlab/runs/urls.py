from django.urls import path

from reflectlab.runs import batch_views, views

app_name = "runs"
urlpatterns = [
    path("projects/<int:project_id>/runs/", views.run_list, name="list"),
    path("projects/<int:project_id>/runs/new", views.run_create, name="create"),
    path("runs/<int:run_id>/", views.run_detail, name="detail"),
    path("runs/<int:run_id>/cancel", views.run_cancel, name="cancel"),
    path("runs/<int:run_id>/batch/requests", batch_views.run_batch_requests, name="batch-requests"),
    path("runs/<int:run_id>/batch/results", batch_views.run_batch_results, name="batch-results"),
    path("runs/<int:run_id>/batch/submit", batch_views.run_batch_submit, name="batch-submit"),
]
