from django.urls import path

from reflectlab.review import views

app_name = "review"
P = "projects/<int:project_id>/"

urlpatterns = [
    path(f"{P}queue/", views.queue, name="queue"),
    path(f"{P}queue/next", views.queue_next, name="next"),
    path(f"{P}queue/policy", views.queue_policy, name="policy"),
    path(f"{P}queue/pins", views.queue_pin, name="pin"),
    path(f"{P}queue/gold", views.gold_add, name="gold-add"),
    path(f"{P}queue/gold/<int:gold_id>/remove", views.gold_remove, name="gold-remove"),
    path(f"{P}my-work/", views.my_work, name="my-work"),
    path(f"{P}review/", views.inbox, name="inbox"),
    path(f"{P}review/next", views.review_next, name="review-next"),
    path(f"{P}annotators/", views.stats, name="stats"),
    path(f"{P}agreement/", views.agreement, name="agreement"),
    path("queue/claims/<int:claim_id>/release", views.claim_release, name="claim-release"),
    path("queue/claims/<int:claim_id>/heartbeat", views.claim_heartbeat, name="claim-heartbeat"),
    path("review/annotations/<int:annotation_id>/", views.review_annotation, name="annotation"),
]
