"""Login is required everywhere except the login page (and the API, which answers 401 itself)."""

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/") and not request.path_info.startswith("/api/docs"):
            return None  # django-ninja authenticates API routes and answers 401 JSON, not a redirect
        return super().process_view(request, view_func, view_args, view_kwargs)
