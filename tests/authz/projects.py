from tests.authz import LOGIN, Rule

P = lambda w: {"project_id": w.project.pk}  # noqa: E731

RULES = {
    "projects:list": Rule(LOGIN, methods=("GET", "POST")),
    "projects:detail": Rule("annotator", P),
    "projects:settings": Rule("manager", P, methods=("GET", "POST")),
    "projects:members": Rule("manager", P, methods=("GET", "POST")),
    "projects:member-remove": Rule(
        "manager", lambda w: {**P(w), "membership_id": w.spare_membership.pk}, methods=("POST",)
    ),
    "project-list": Rule(LOGIN, api=True, methods=("GET", "POST")),
    "project-detail": Rule("annotator", lambda w: {"pk": w.project.pk}, api=True, methods=("GET",)),
    "api-members": Rule("manager", P, api=True, methods=("GET", "POST", "DELETE")),
}
