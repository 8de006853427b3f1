"""API routes of this app, included under /api/v1/ by reflectlab.api.urls."""

urlpatterns: list = []
