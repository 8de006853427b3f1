from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Roles are ordered: a reviewer may do what an annotator may, a manager all."""

    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"

    @classmethod
    def rank(cls, role: str) -> int:
        return {cls.ANNOTATOR: 1, cls.REVIEWER: 2, cls.MANAGER: 3}[role]


def default_principles() -> list[str]:
    return [
        "Each step follows from the previous ones",
        "Arithmetic is correct",
        "The final answer answers the question asked",
    ]


def default_error_categories() -> list[str]:
    return ["calculation", "logic", "misread problem", "wrong method", "other"]


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    principles = models.JSONField(default=default_principles, blank=True)
    error_categories = models.JSONField(default=default_error_categories, blank=True)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Annotations wanted per trace.")
    queue_policy = models.JSONField(default=dict, blank=True)
    lexicon = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the analysis lexicon."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]
        ordering = ["project_id", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"

    def allows(self, role: str) -> bool:
        return Role.rank(self.role) >= Role.rank(role)


class Invite(models.Model):
    """A manager's invitation of a new user to a project, redeemed by a one-time link.

    The link's token (``projects.tokens``) hashes this row's ``issued_at`` and the
    user's password hash, so it dies once the password is set, when the manager
    invites again (a new ``issued_at``), or after ``REFLECTLAB_INVITE_TTL_SECONDS``.
    Nothing secret is stored: the token is shown once and sent, never kept.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invites"
    )
    email = models.EmailField(blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    issued_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="invite_unique_user")
        ]

    def __str__(self) -> str:
        return f"invite of {self.user} to {self.project}"
