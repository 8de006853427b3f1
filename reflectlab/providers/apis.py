from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from reflectlab.core.access import object_for, project_for, projects_of
from reflectlab.core.ids import ProjectFilterSerializer
from reflectlab.projects.models import Role
from reflectlab.providers import services
from reflectlab.providers.models import EDITABLE_FIELDS, ModelConfig


class ModelConfigSerializer(serializers.ModelSerializer):
    """``api_key_env`` is write-only; ``api_key_configured`` says whether the
    variable is set in the API process — the key itself never appears."""

    api_key_configured = serializers.BooleanField(read_only=True)

    class Meta:
        model = ModelConfig
        fields = ["id", "project", *EDITABLE_FIELDS, "api_key_configured", "created_at"]
        read_only_fields = ["id", "project", "created_at"]
        extra_kwargs = {"api_key_env": {"write_only": True}}


class ModelConfigInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelConfig
        fields = EDITABLE_FIELDS


class ModelConfigCreateSerializer(ModelConfigInputSerializer):
    project = serializers.IntegerField()

    class Meta(ModelConfigInputSerializer.Meta):
        fields = ["project", *EDITABLE_FIELDS]


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


class ModelConfigListApi(GenericAPIView):
    """Model configs of the caller's projects (``?project=`` narrows); POST creates one (managers)."""

    serializer_class = ModelConfigSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ModelConfig.objects.none()
        queryset = ModelConfig.objects.filter(project__in=projects_of(self.request.user))
        params = ProjectFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        if (project := params.validated_data.get("project")) is not None:
            queryset = queryset.filter(project_id=project)
        return queryset.order_by("id")

    @extend_schema(
        operation_id="model_configs_list",
        parameters=[OpenApiParameter("project", int, required=False)],
        responses=ModelConfigSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ModelConfigSerializer(page, many=True).data)

    @extend_schema(request=ModelConfigCreateSerializer, responses=ModelConfigSerializer)
    def post(self, request):
        data = ModelConfigCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        project, _ = project_for(request.user, values.pop("project"), role=Role.MANAGER)
        try:
            config = services.model_config_create(project=project, data=values)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(ModelConfigSerializer(config).data, status=status.HTTP_201_CREATED)


class ModelConfigDetailApi(GenericAPIView):
    """One model config (members); PATCH changes it (managers)."""

    serializer_class = ModelConfigSerializer

    def _config(self, role: str) -> ModelConfig:
        config, _ = object_for(
            self.request.user, ModelConfig.objects.all(), self.kwargs["config_id"], role=role
        )
        return config

    def get(self, request, config_id: int):
        return Response(ModelConfigSerializer(self._config(Role.ANNOTATOR)).data)

    @extend_schema(request=ModelConfigInputSerializer, responses=ModelConfigSerializer)
    def patch(self, request, config_id: int):
        config = self._config(Role.MANAGER)
        data = ModelConfigInputSerializer(config, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            config = services.model_config_update(config=config, data=dict(data.validated_data))
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None
        return Response(ModelConfigSerializer(config).data)
