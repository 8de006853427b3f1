from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from reflectlab.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link> says.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg")), name="favicon"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/token/", core_views.api_token, name="api-token-page"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reflectlab.api.urls")),
    path("", include("reflectlab.projects.urls")),
    path("", include("reflectlab.prompts.urls")),
    path("", include("reflectlab.traces.urls")),
    path("", include("reflectlab.providers.urls")),
    path("", include("reflectlab.runs.urls")),
    path("", include("reflectlab.annotations.urls")),
    path("", include("reflectlab.review.urls")),
    path("", include("reflectlab.exports.urls")),
    path("", include("reflectlab.dashboards.urls")),
    path("", include("reflectlab.judges.urls")),
]
