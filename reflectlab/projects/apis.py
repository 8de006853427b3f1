from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from reflectlab.core.access import project_for
from reflectlab.projects import selectors, services, validators
from reflectlab.projects.models import Membership, Project, Role
from reflectlab.review.policy import QueuePolicy
from reflectlab.review.queue import queue_policy_set


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "guidelines",
            "principles",
            "error_categories",
            "overlap",
            "queue_policy",
            "lexicon",
            "created_at",
            "role",
        ]
        read_only_fields = ["id", "created_at", "role"]

    def get_role(self, project: Project) -> str | None:
        request = self.context.get("request")
        membership = (
            project.memberships.filter(user_id=request.user.pk).first() if request else None
        )
        return membership.role if membership else None

    def validate_overlap(self, value: int) -> int:
        if not 1 <= value <= 20:
            raise serializers.ValidationError("Overlap must be between 1 and 20.")
        return value

    def validate_queue_policy(self, value):
        try:
            return QueuePolicy.from_json(value).to_json()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_lexicon(self, value):
        """A form body's ``lexicon=null`` parses to None here (it is JSON text)."""
        try:
            return validators.validate_lexicon(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_principles(self, value):
        return _string_list(value)

    def validate_error_categories(self, value):
        return _string_list(value)


def _string_list(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise serializers.ValidationError("Must be a list of strings.")
    return value


class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects the caller belongs to. Creating one makes the caller its manager;
    changing one needs the manager role."""

    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Project.objects.none()
        return selectors.projects_for_user(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.project_create(
            user=self.request.user, **serializer.validated_data
        )

    def update(self, request, *args, **kwargs):
        # The role is checked before the body is validated.
        project_for(request.user, self.get_object().pk, role=Role.MANAGER)
        return super().update(request, *args, **kwargs)

    def perform_update(self, serializer):
        policy = serializer.validated_data.pop("queue_policy", None)
        serializer.save()
        if policy is not None:  # re-ranks the queue too
            queue_policy_set(project=serializer.instance, policy=policy)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberDeleteSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField(min_value=1)


class MemberApi(GenericAPIView):
    """Members of a project by username, paginated (managers only). POST adds or changes
    a role; DELETE removes."""

    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()  # the model for the schema; get() scopes to the project

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        page = self.paginate_queryset(selectors.members_of(project=project))
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)

    @extend_schema(request=MemberInputSerializer, responses=MembershipSerializer)
    def post(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_set(project=project, **data.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberDeleteSerializer, responses={204: None})
    def delete(self, request, project_id: int):
        project, _ = project_for(request.user, project_id, role=Role.MANAGER)
        data = MemberDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.membership_remove(
            project=project, membership_id=data.validated_data["membership_id"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
