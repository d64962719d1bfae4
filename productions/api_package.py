"""REST route for the delivery package (productions.delivery_package; django-ninja router mounted on
productions.api.api), with the page's rules: viewers and producers of the project download it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from productions.delivery_package import PackageUnavailable, start_build
from productions.downloads import download_name, serve_file

router = Router()

RETRY_AFTER_S = 2


class PackageStateOut(Schema):
    status: str  # "building" or "failed"
    detail: str


class PackageErrorOut(Schema):
    detail: str


@router.get("/episodes/{episode_id}/package",
            response={200: None, 202: PackageStateOut, 404: PackageErrorOut, 409: PackageStateOut},
            summary="The delivery package (ZIP)")
def download_package(request: HttpRequest, episode_id: int, response: HttpResponse):
    """The episode's delivery package: the final video, each segment's clip, the QA and conformance reports and
    the edit as an OpenTimelineIO timeline, in one ZIP. While it is being built (the first request starts it):
    202 with a Retry-After; ask again. 409 when its last build failed (the reason in `detail`; the episode page's
    "Try again" starts a new one). 404 for an episode without a delivered (or in-review) final video."""
    from productions.api import episode_for

    episode = episode_for(request, episode_id)
    try:
        state, value = start_build(episode)
    except PackageUnavailable as exc:
        raise HttpError(404, str(exc)) from None
    if state == "ready":
        return serve_file(request, value, download_name(episode, "-package.zip"))
    if state == "failed":
        return Status(409, {"status": "failed", "detail": f"The package could not be made: {value}"})
    response["Retry-After"] = str(RETRY_AFTER_S)  # ninja copies this temporal response's headers
    return Status(202, {"status": "building", "detail": "The package is being built: ask again shortly."})
