"""Forcing Real-ESRGAN where no render worker has CUDA is refused, naming the field, at create and at render
time (on a CPU it would take hours). Workers say whether they have CUDA in their heartbeat; this machine has
none, and a heartbeat claiming CUDA stands in for a GPU worker (the one thing faked)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from productions import monitor
from productions.models import Episode, WorkerHeartbeat
from tests.conftest import post_json, small_episode
from tests.test_forms import form_data

pytestmark = pytest.mark.django_db

EPISODE = {"title": "Ep 1", "synopsis": "A girl finds a dragon.", "seed": 3, "upscaler": "realesrgan"}


def gpu_worker(*, cuda: bool = True, seen_s_ago: float = 0.0) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(
        worker_id=f"gpu-host:{1000 + WorkerHeartbeat.objects.count()}:x", host="gpu-host", pid=1000,
        seen_at=timezone.now() - timedelta(seconds=seen_s_ago), state={"gpus": [], "upscale_cuda": cuda})


def test_this_machine_has_no_cuda_and_its_heartbeat_says_so(project, monkeypatch):
    assert monitor.local_upscale_cuda() is False
    # Past the driver check (as on a host with the NVIDIA driver): torch itself is asked, and sees no CUDA here.
    monkeypatch.setattr(monitor, "DRIVER_PATHS", ("/proc",))
    assert monitor.local_upscale_cuda.__wrapped__() is False
    beat = monitor.Heartbeat(interval_s=5)
    beat.beat()
    assert WorkerHeartbeat.objects.get(worker_id=beat.worker_id).state["upscale_cuda"] is False


def test_forcing_realesrgan_without_cuda_is_refused_on_the_form_and_the_api(producer_client, project):
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data(upscaler="realesrgan"))
    assert response.status_code == 200
    assert "Real-ESRGAN needs a CUDA GPU" in " ".join(response.context["form"].errors["upscaler"])

    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", EPISODE)
    assert response.status_code == 422
    assert "no render worker has one" in response.json()["errors"]["upscaler"][0]
    assert not Episode.objects.exists()

    # A worker that stopped beating, or one without CUDA, does not count.
    gpu_worker(seen_s_ago=3600)
    gpu_worker(cuda=False)
    assert post_json(producer_client, f"/api/projects/{project.pk}/episodes", EPISODE).status_code == 422
    # Auto and Lanczos are never refused for it.
    for choice in ("auto", "lanczos", ""):
        assert post_json(producer_client, f"/api/projects/{project.pk}/episodes",
                         {**EPISODE, "title": f"Ep {choice}", "upscaler": choice}).status_code == 201


def test_forcing_it_is_accepted_when_a_live_worker_has_cuda(producer_client, project):
    gpu_worker()
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", EPISODE)
    assert response.status_code == 201 and response.json()["id"]
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data(upscaler="realesrgan"))
    assert response.status_code == 302


def test_the_instance_default_is_refused_the_same_way(producer_client, project, settings):
    settings.TOWER_UPSCALER = "realesrgan"
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**EPISODE, "upscaler": ""})
    assert response.status_code == 422
    assert "TOWER_UPSCALER" in response.json()["errors"]["upscaler"][0]


def test_a_render_is_refused_once_no_worker_has_cuda(producer_client, project):
    episode = small_episode(project, upscaler="realesrgan")  # made while a GPU worker was up, say
    response = post_json(producer_client, f"/api/episodes/{episode.pk}/render")
    assert response.status_code == 409
    assert "upscaler" in response.json()["errors"] and "Real-ESRGAN" in response.json()["detail"]
    response = producer_client.post(f"/episodes/{episode.pk}/render/", follow=True)
    assert "Not started: this episode&#x27;s upscaler is Real-ESRGAN" in response.content.decode()
    episode.refresh_from_db()
    assert episode.status == Episode.Status.DRAFT

    gpu_worker()
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/render").status_code == 202


def test_a_worker_without_cuda_fails_a_forced_realesrgan_at_once_in_plain_words(project, settings):
    """The backstop behind the pages: an episode queued while a GPU worker was up (or a rejection's re-render)
    reaches a worker without CUDA, which fails it before any frame instead of upscaling for hours on its CPU."""
    from productions.render import EpisodeRender

    settings.TOWER_UPSCALE_DEVICE = ""  # auto: this machine has no CUDA
    episode = small_episode(project, upscaler="realesrgan")
    episode.queue_render()
    assert EpisodeRender(episode).run() == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "Real-ESRGAN" in episode.error and "no CUDA GPU" in episode.error and "\n" not in episode.error
    assert not episode.segments.filter(status="done").exists() and not episode.final_path
