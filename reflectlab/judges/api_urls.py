"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

from django.urls import path

from reflectlab.judges import apis

urlpatterns = [
    path("projects/<int:project_id>/judges/", apis.JudgeListApi.as_view(), name="api-judges"),
    path("judges/<int:judge_id>/", apis.JudgeDetailApi.as_view(), name="api-judge"),
    path("judges/<int:judge_id>/prompts/", apis.JudgePromptApi.as_view(), name="api-judge-prompts"),
    path("judge-runs/", apis.JudgeRunCreateApi.as_view(), name="api-judge-runs"),
    path("judge-runs/<int:run_id>/", apis.JudgeRunDetailApi.as_view(), name="api-judge-run"),
    path(
        "judge-runs/<int:run_id>/cancel",
        apis.JudgeRunCancelApi.as_view(),
        name="api-judge-run-cancel",
    ),
    path(
        "projects/<int:project_id>/suggestions/",
        apis.SuggestionListApi.as_view(),
        name="api-suggestions",
    ),
    path(
        "suggestions/<int:suggestion_id>/accept",
        apis.SuggestionAcceptApi.as_view(),
        name="api-suggestion-accept",
    ),
    path(
        "suggestions/<int:suggestion_id>/ignore",
        apis.SuggestionIgnoreApi.as_view(),
        name="api-suggestion-ignore",
    ),
    path(
        "projects/<int:project_id>/judge-eval", apis.JudgeEvalApi.as_view(), name="api-judge-eval"
    ),
    path(
        "projects/<int:project_id>/hint-memory",
        apis.HintMemoryApi.as_view(),
        name="api-hint-memory",
    ),
    path("projects/<int:project_id>/assist", apis.AssistSettingsApi.as_view(), name="api-assist"),
]
