from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles.views import serve as serve_static_file
from django.urls import include, path, re_path

from productions.api import api


@login_not_required
def serve_static(request, path: str):
    """Static files straight from the app (embedded shape: no web server in front). The login page needs
    its stylesheet before anyone is signed in. Behind nginx, set TOWER_SERVE_STATIC=0 and collectstatic."""
    return serve_static_file(request, path, insecure=True)


# A request refused before any view (a body over DATA_UPLOAD_MAX_MEMORY_SIZE), or an address no route matches:
# JSON under /api/.
handler400 = "productions.api.bad_request"
handler404 = "productions.api.not_found"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The link a new member gets to choose a password (productions.team.create_account).
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
if settings.TOWER_SERVE_STATIC:
    urlpatterns.append(re_path(rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.*)$", serve_static))
urlpatterns.append(path("", include("productions.urls")))
