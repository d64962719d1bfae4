"""The delivery package download (productions.delivery_package): viewers and producers of the project.

GET answers the ZIP (through productions.downloads: ranges, X-Accel-Redirect / X-Sendfile) once it is built;
until then a page (202) that says it is being prepared and reloads itself every 2 seconds (a Refresh header:
no script needed), so the request never waits on the build and the download starts by itself. A build that
failed says why; `?retry=1` tries again.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from productions.delivery_package import PackageUnavailable, forget_failure, start_build
from productions.downloads import download_name, serve_file
from productions.views import visible_episode

REFRESH_S = 2


def episode_package(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    try:
        if request.GET.get("retry"):
            forget_failure(episode)
            return redirect("episode-package", pk=pk)
        state, value = start_build(episode)
    except PackageUnavailable as exc:
        raise Http404(str(exc)) from None
    if state == "ready":
        return serve_file(request, value, download_name(episode, "-package.zip"))
    response = render(request, "productions/package_preparing.html",
                      {"episode": episode, "error": value if state == "failed" else None},
                      status=202 if state == "building" else 200)
    if state == "building":
        response["Refresh"] = str(REFRESH_S)
    return response
