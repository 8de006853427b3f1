from tests.factories import MembershipFactory, TraceFactory, UserFactory


def test_the_review_link_is_shown_to_reviewers_only_on_every_project_page(client, db):
    trace = TraceFactory()
    annotator, reviewer = UserFactory(), UserFactory()
    MembershipFactory(project=trace.project, user=annotator, role="annotator")
    MembershipFactory(project=trace.project, user=reviewer, role="reviewer")
    for user, shown in ((annotator, False), (reviewer, True)):
        client.force_login(user)
        for url in (f"/traces/{trace.pk}/", f"/projects/{trace.project_id}/"):
            page = client.get(url).content.decode()
            assert (f"/projects/{trace.project_id}/review/" in page) is shown, (user, url)
