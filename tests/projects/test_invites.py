"""Invites: a manager adds a new user, who sets a password through a one-time link."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse

from reflectlab.projects import services
from reflectlab.projects.models import Invite, Membership
from reflectlab.projects.tokens import InviteTokenGenerator, invite_tokens
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

User = get_user_model()
NEW_PASSWORD = "a-long-enough-passphrase"


def invite(project, manager, username="newbie", **kwargs):
    kwargs.setdefault("role", "annotator")
    return services.member_invite(project=project, username=username, invited_by=manager, **kwargs)


def link(invitation) -> str:
    return reverse("projects:invite-accept", args=[invitation.invite.pk, invitation.token])


def accept(client, url, password=NEW_PASSWORD):
    return client.post(url, {"new_password1": password, "new_password2": password})


# --- service --------------------------------------------------------------------------------


def test_a_new_user_is_created_inactive_without_a_usable_password(project, user):
    invitation = invite(project, user, email="new@example.org", role="reviewer")
    new = User.objects.get(username="newbie")
    assert not new.is_active
    assert not new.has_usable_password()
    assert new.email == "new@example.org"
    assert invitation.membership.role == "reviewer"
    assert invitation.invite.invited_by == user
    assert invite_tokens.check_token(invitation.invite, invitation.token)


def test_an_existing_user_just_gets_the_membership(project, user):
    existing = UserFactory(username="known")
    invitation = invite(project, user, username="known")
    assert invitation.token == "" and invitation.invite is None
    assert Membership.objects.get(project=project, user=existing).role == "annotator"
    assert not Invite.objects.exists()
    existing.refresh_from_db()
    assert existing.is_active and existing.check_password("pw-123456")


def test_an_inactive_user_with_a_password_of_their_own_gets_no_link(project, user):
    # An account someone deactivated is not an invitee: a link would hand it over.
    locked = UserFactory(username="locked", is_active=False)
    assert invite(project, user, username="locked").token == ""
    locked.refresh_from_db()
    assert not locked.is_active


def test_reinviting_issues_a_new_link_and_kills_the_old_one(project, user, client):
    first = invite(project, user)
    second = invite(project, user, role="reviewer")
    assert second.token and second.invite.pk == first.invite.pk
    assert Membership.objects.get(project=project, user__username="newbie").role == "reviewer"
    assert client.get(link(first)).status_code == 400
    assert client.get(link(second)).status_code == 200


def test_a_user_invited_by_another_project_gets_no_link_here(project, user):
    other = ProjectFactory()
    other_manager = UserFactory()
    MembershipFactory(project=other, user=other_manager, role="manager")
    invite(other, other_manager)
    here = invite(project, user)
    assert here.token == "" and here.pending_elsewhere
    assert Membership.objects.filter(project=project, user__username="newbie").exists()


def test_bad_usernames_and_roles_are_refused_and_nothing_is_created(project, user):
    with pytest.raises(ValidationError) as exc:
        invite(project, user, username="no spaces/allowed")
    assert "username" in exc.value.message_dict
    with pytest.raises(ValidationError):
        invite(project, user, role="owner")
    assert not User.objects.filter(username__in=["no spaces/allowed", "newbie"]).exists()


def test_accepting_sets_the_password_activates_and_spends_the_link(project, user):
    invitation = invite(project, user)
    services.invite_accept(invite_id=invitation.invite.pk, token=invitation.token, password="pw")
    new = User.objects.get(username="newbie")
    assert new.is_active and new.check_password("pw")
    with pytest.raises(ValidationError):
        services.invite_accept(
            invite_id=invitation.invite.pk, token=invitation.token, password="other"
        )
    new.refresh_from_db()
    assert new.check_password("pw")


# --- views ----------------------------------------------------------------------------------


def test_manager_invites_and_sees_the_link_once(logged_in, project, user):
    url = reverse("projects:members", args=[project.pk])
    response = logged_in.post(url, {"username": "newbie", "role": "annotator"}, follow=True)
    assert response.status_code == 200
    shown = response.context["new_link"]
    assert shown["username"] == "newbie" and shown["emailed"] == ""
    assert shown["link"].startswith("http://testserver/invites/")
    html = response.content.decode()
    assert f'value="{shown["link"]}"' in html
    assert "invited, not joined yet" in html
    assert not mail.outbox
    again = logged_in.get(url)
    assert again.context["new_link"] is None
    assert shown["link"] not in again.content.decode()


def test_with_an_email_the_link_is_sent_through_the_email_backend(logged_in, project):
    url = reverse("projects:members", args=[project.pk])
    response = logged_in.post(
        url, {"username": "newbie", "email": "new@example.org", "role": "reviewer"}, follow=True
    )
    shown = response.context["new_link"]
    assert shown["emailed"] == "sent"
    (message,) = mail.outbox
    assert message.to == ["new@example.org"]
    assert shown["link"] in message.body
    assert project.name in message.subject


def test_a_failing_mail_server_still_shows_the_link(logged_in, project, monkeypatch):
    def refuse(**kwargs):
        raise ConnectionRefusedError("no SMTP here")

    monkeypatch.setattr(services, "invite_email", refuse)
    url = reverse("projects:members", args=[project.pk])
    response = logged_in.post(
        url, {"username": "newbie", "email": "new@example.org", "role": "annotator"}, follow=True
    )
    assert response.context["new_link"]["emailed"] == "failed"
    assert "could not be sent" in response.content.decode()


def test_an_existing_user_gets_no_link_on_the_page(logged_in, project):
    UserFactory(username="known")
    url = reverse("projects:members", args=[project.pk])
    response = logged_in.post(url, {"username": "known", "role": "annotator"}, follow=True)
    assert response.context["new_link"] is None
    assert "known is now annotator." in response.content.decode()


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_a_non_manager_cannot_invite(client, project, role):
    member = UserFactory()
    MembershipFactory(project=project, user=member, role=role)
    client.force_login(member)
    url = reverse("projects:members", args=[project.pk])
    response = client.post(url, {"username": "newbie", "role": "manager"})
    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


def test_the_link_works_once_and_lands_on_the_project(client, project, user):
    invitation = invite(project, user)
    url = link(invitation)
    page = client.get(url)
    assert page.status_code == 200
    assert "newbie" in page.content.decode() and project.name in page.content.decode()
    response = accept(client, url)
    assert response.status_code == 302
    assert response["Location"] == reverse("projects:detail", args=[project.pk])
    assert client.get(response["Location"]).status_code == 200  # logged in, a member
    new = User.objects.get(username="newbie")
    assert new.is_active and new.check_password(NEW_PASSWORD)
    assert Invite.objects.get().accepted_at is not None
    # Second use, even from another browser: refused, password unchanged.
    client.logout()
    assert client.get(url).status_code == 400
    second = accept(client, url, "another-long-passphrase")
    assert second.status_code == 400
    assert "not valid" in second.content.decode()
    new.refresh_from_db()
    assert new.check_password(NEW_PASSWORD)


def test_an_expired_link_is_refused_and_nothing_changes(
    client, project, user, monkeypatch, settings
):
    invitation = invite(project, user)
    later = datetime.now() + timedelta(seconds=settings.REFLECTLAB_INVITE_TTL_SECONDS + 5)  # noqa: DTZ005 - Django's tokens count naive local time
    monkeypatch.setattr(InviteTokenGenerator, "_now", lambda self: later)
    response = accept(client, link(invitation))
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    new = User.objects.get(username="newbie")
    assert not new.is_active and not new.has_usable_password()


def test_the_lifetime_follows_the_setting(client, project, user, monkeypatch, settings):
    settings.REFLECTLAB_INVITE_TTL_SECONDS = 60
    invitation = invite(project, user)
    soon = datetime.now() + timedelta(seconds=30)  # noqa: DTZ005
    monkeypatch.setattr(InviteTokenGenerator, "_now", lambda self: soon)
    assert client.get(link(invitation)).status_code == 200
    late = datetime.now() + timedelta(seconds=90)  # noqa: DTZ005
    monkeypatch.setattr(InviteTokenGenerator, "_now", lambda self: late)
    assert client.get(link(invitation)).status_code == 400


@pytest.mark.parametrize("tamper", ["token", "timestamp", "invite"])
def test_a_tampered_link_is_refused(client, project, user, tamper):
    invitation = invite(project, user)
    other = invite(project, user, username="someone-else")
    ts, digest = invitation.token.split("-")
    invite_id, token = invitation.invite.pk, invitation.token
    if tamper == "token":
        token = f"{ts}-{digest[:-1]}{'0' if digest[-1] != '0' else '1'}"
    elif tamper == "timestamp":
        token = f"{ts[:-1]}{'z' if ts[-1] != 'z' else 'y'}-{digest}"
    else:
        invite_id = other.invite.pk  # this user's token on another invite
    url = reverse("projects:invite-accept", args=[invite_id, token])
    assert client.get(url).status_code == 400
    assert accept(client, url).status_code == 400
    assert not User.objects.filter(username__in=["newbie", "someone-else"], is_active=True).exists()


def test_a_removed_invitees_link_no_longer_works(client, project, user):
    invitation = invite(project, user)
    services.membership_remove(project=project, membership_id=invitation.membership.pk)
    assert accept(client, link(invitation)).status_code == 400
    assert not User.objects.get(username="newbie").is_active
    # Invited again later: a fresh link works.
    again = invite(project, user)
    assert accept(client, link(again)).status_code == 302


def test_the_password_validators_apply(client, project, user, settings):
    invitation = invite(project, user)
    response = accept(client, link(invitation), password="short")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert not User.objects.get(username="newbie").is_active
    mismatch = client.post(
        link(invitation), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"}
    )
    assert mismatch.context["form"].errors
    assert accept(client, link(invitation)).status_code == 302


def test_two_submissions_of_one_link_at_once_set_one_password(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's IMMEDIATE transactions serialise the writers")
    manager = UserFactory()
    project = ProjectFactory()
    MembershipFactory(project=project, user=manager, role="manager")
    invitation = invite(project, manager)
    # Hold each submission between its token check and its write until the other
    # has checked too: without the row locks both pass and both set a password.
    barrier = threading.Barrier(2, timeout=3)
    real = services.invite_tokens

    class CheckThenWait:
        def check_token(self, *args):
            ok = real.check_token(*args)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            return ok

    outcomes: list[str] = []

    def work(password):
        try:
            services.invite_accept(
                invite_id=invitation.invite.pk, token=invitation.token, password=password
            )
            outcomes.append(password)
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "invite_tokens", CheckThenWait())
        threads = [threading.Thread(target=work, args=(p,)) for p in ("first-pw", "second-pw")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert outcomes.count("refused") == 1
    (winner,) = [o for o in outcomes if o != "refused"]
    assert User.objects.get(username="newbie").check_password(winner)
