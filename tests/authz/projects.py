from reflectlab.projects.services import member_invite
from tests.authz import LOGIN, PUBLIC, Rule

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


def invite_link(world) -> dict:
    """A live invitation of a new user to the world's project."""
    invitation = member_invite(
        project=world.project,
        username=f"invitee-{world.actor}",
        role="annotator",
        invited_by=world.users["manager"],
    )
    return {"invite_id": invitation.invite.pk, "token": invitation.token}


# The set-password link is public: its token is the credential.
RULES["projects:invite-accept"] = Rule(PUBLIC, invite_link, methods=("GET", "POST"))
