from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from reflectlab.core.access import project_for
from reflectlab.dashboards import charts, selectors
from reflectlab.dashboards.forms import DashboardFilterForm

_PERCENT = {"allow_null": True, "help_text": "A fraction in [0, 1]; null when undefined."}

SummarySerializer = inline_serializer(
    "StatsSummary",
    {
        "traces": serializers.IntegerField(),
        "models": serializers.IntegerField(),
        "graded": serializers.IntegerField(),
        "correct": serializers.IntegerField(),
        "reflecting": serializers.IntegerField(),
        "corrective": serializers.IntegerField(),
        "truncated": serializers.IntegerField(),
        "truncated_no_answer": serializers.IntegerField(
            help_text="Outcome truncated_no_answer: cut off before answering (not counted wrong)."
        ),
        "truncated_reached": serializers.IntegerField(
            help_text="Of those, how many had reached a correct answer in the thinking."
        ),
        "accuracy": serializers.FloatField(**_PERCENT),
        "reflecting_share": serializers.FloatField(**_PERCENT),
        "corrective_share": serializers.FloatField(**_PERCENT),
        "mean_reflection_steps": serializers.FloatField(allow_null=True),
        "mean_reflection_share": serializers.FloatField(allow_null=True),
    },
)

MODEL_ROW_FIELDS = {
    "model": serializers.CharField(),
    "traces": serializers.IntegerField(),
    "accuracy": serializers.FloatField(**_PERCENT),
    "reflecting_share": serializers.FloatField(**_PERCENT),
    "corrective_share": serializers.FloatField(**_PERCENT),
    "mean_reflection_steps": serializers.FloatField(allow_null=True),
    "mean_reflection_share": serializers.FloatField(allow_null=True),
    "mean_thinking_chars": serializers.FloatField(allow_null=True),
}

ChartSerializer = inline_serializer(
    "StatsChart",
    {
        "title": serializers.CharField(),
        "page": serializers.CharField(),
        "columns": serializers.ListField(child=serializers.CharField()),
        "rows": serializers.ListField(
            child=serializers.DictField(), help_text="One object per row, keyed by the columns."
        ),
    },
)

StatsSerializer = inline_serializer(
    "Stats",
    {
        "summary": SummarySerializer,
        "models": inline_serializer("StatsModel", MODEL_ROW_FIELDS, many=True),
        "charts": serializers.DictField(
            child=ChartSerializer, help_text="By chart key; only the charts your role may see."
        ),
    },
)


@extend_schema(
    parameters=[
        OpenApiParameter("run", OpenApiTypes.INT, required=False, description="A run id."),
        OpenApiParameter("model", OpenApiTypes.STR, required=False, description="A model name."),
        OpenApiParameter("date_from", OpenApiTypes.DATE, required=False),
        OpenApiParameter("date_to", OpenApiTypes.DATE, required=False),
        OpenApiParameter(
            "chart",
            OpenApiTypes.STR,
            required=False,
            enum=list(charts.CHARTS),
            description="Only this chart (default: every chart your role may see).",
        ),
    ],
    responses={200: StatsSerializer},
)
class StatsApi(APIView):
    """The dashboards' aggregates as JSON: the same rows as each chart's CSV download.

    Filters as on the dashboard pages. Annotators get the reflection charts;
    reviewers and managers also the run, annotation and hint charts.
    """

    def get(self, request, project_id: int):
        project, membership = project_for(request.user, project_id)
        form = DashboardFilterForm(request.query_params, project=project)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        chart_key = request.query_params.get("chart", "")
        allowed = charts.charts_for(membership.role)
        if chart_key:
            if chart_key not in charts.CHARTS:
                raise serializers.ValidationError({"chart": ["Unknown chart."]})
            allowed = [c for c in allowed if c.key == chart_key]
            if not allowed:
                raise serializers.ValidationError({"chart": ["Your role may not see this chart."]})
        filters = selectors.Filters.from_cleaned(form.cleaned_data)
        cache = charts.RowCache(project, filters)
        return Response(
            {
                "summary": cache.get(selectors.summary),
                "models": cache.get(selectors.models_overview),
                "charts": {
                    chart.key: {
                        "title": chart.title,
                        "page": chart.page,
                        "columns": list(chart.columns),
                        "rows": cache.rows(chart),
                    }
                    for chart in allowed
                },
            }
        )
