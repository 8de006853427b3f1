from django.urls import path

from reflectlab.judges import views, views_assist

app_name = "judges"
urlpatterns = [
    path("projects/<int:project_id>/judges/", views.judge_list, name="list"),
    path("projects/<int:project_id>/judges/new", views.judge_create, name="create"),
    path("projects/<int:project_id>/judges/assist", views.assist_update, name="assist"),
    path("projects/<int:project_id>/judges/dashboard", views.dashboard, name="dashboard"),
    path("judges/<int:judge_id>/", views.judge_detail, name="detail"),
    path("judges/<int:judge_id>/prompts", views.prompt_add, name="prompt-add"),
    path("judges/<int:judge_id>/runs", views.run_create, name="run-create"),
    path("judge-runs/<int:run_id>/", views.run_detail, name="run"),
    path("judge-runs/<int:run_id>/cancel", views.run_cancel, name="run-cancel"),
    path("traces/<int:trace_id>/assist", views_assist.assist_panel, name="assist-panel"),
    path("traces/<int:trace_id>/hint-memory", views_assist.hint_memory_panel, name="hint-memory"),
    path(
        "suggestions/<int:suggestion_id>/take",
        views_assist.suggestion_take,
        name="suggestion-take",
    ),
    path(
        "suggestions/<int:suggestion_id>/dismiss",
        views_assist.suggestion_dismiss,
        name="suggestion-dismiss",
    ),
]
