"""The new-episode page: spec defaults, field errors, nothing created on error."""

import pytest

from productions.models import Episode

pytestmark = pytest.mark.django_db


def form_data(**change):
    data = {"title": "Ep 1", "synopsis": "A girl finds a dragon.", "seed": "1", "duration_s": "30",
            "width": "1920", "height": "1080", "fps": "24", "min_bitrate_bps": "10000000",
            "segment_count": "6", "backend": "", "upscaler": ""}
    data.update(change)
    return data


def test_the_form_starts_from_the_delivery_spec(producer_client, project):
    page = producer_client.get(f"/projects/{project.pk}/episodes/new/").content.decode()
    for value in ['value="1920"', 'value="1080"', 'value="24"', 'value="30.0"', 'value="10000000"']:
        assert value in page


@pytest.mark.parametrize(
    ("change", "field"),
    [({"duration_s": "12"}, "duration_s"), ({"width": "1024"}, "width"), ({"fps": "12"}, "fps"),
     ({"min_bitrate_bps": "5000000"}, "min_bitrate_bps"), ({"synopsis": ""}, "synopsis"),
     ({"synopsis": "y" * 100_000}, "synopsis"), ({"seed": "abc"}, "seed")],
)
def test_bad_input_shows_the_error_next_to_its_field(producer_client, project, change, field):
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data(**change))
    assert response.status_code == 200
    assert f'data-field="{field}"' in response.content.decode()
    assert Episode.objects.count() == 0


def test_a_good_form_creates_a_draft_and_redirects_to_its_storyboard(producer_client, project):
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data())
    episode = Episode.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/episodes/{episode.pk}/storyboard/"
    assert episode.status == Episode.Status.DRAFT


def test_a_viewer_gets_no_form(viewer_client, project):
    assert viewer_client.get(f"/projects/{project.pk}/episodes/new/").status_code == 403
    assert viewer_client.post(f"/projects/{project.pk}/episodes/new/", form_data()).status_code == 403
    assert Episode.objects.count() == 0


def test_a_script_prompt_is_shown_as_text(producer_client, project):
    producer_client.post(f"/projects/{project.pk}/episodes/new/",
                         form_data(synopsis="<script>alert('x')</script> A fox."))
    page = producer_client.get(Episode.objects.get().get_absolute_url()).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [({"transitions": "3 cut"}, "transitions", "is not a transition"),
     ({"transitions": "9: cut"}, "transitions", "segments 2 to 6"),
     ({"transitions": "2: wipe"}, "transitions", "unknown transition"),
     ({"transitions": "2: dissolve 200"}, "transitions", "longer than half"),
     ({"interpolation": "teleport"}, "interpolation", "valid choice"),
     ({"interpolation": "none", "native_fps": "8"}, "interpolation", "delivery rate"),
     ({"native_fps": "48"}, "native_fps", "at most at the delivery rate")],
)
def test_joins_and_interpolation_errors_name_their_field(producer_client, project, change, field, message):
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data(**change))
    page = response.content.decode()
    assert response.status_code == 200 and f'data-field="{field}"' in page, page[-3000:]
    assert message in page
    assert Episode.objects.count() == 0


def test_joins_and_interpolation_are_kept_and_shown(producer_client, project):
    producer_client.post(f"/projects/{project.pk}/episodes/new/",
                         form_data(transitions="3: cut; 5: dissolve 12", interpolation="mci"))
    episode = Episode.objects.get()
    assert episode.transitions == "3: cut; 5: dissolve 12" and episode.interpolation == "mci"
    page = producer_client.get(episode.get_absolute_url()).content.decode()
    assert "3: cut; 5: dissolve 12" in page and "motion-compensated (mci)" in page


def test_the_default_interpolation_is_the_backends_and_never_blend(producer_client, project):
    producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data())
    episode = Episode.objects.get()
    profile = episode.generation_profile()
    assert (profile.interpolation, profile.native_fps) == ("hold", 12)
    page = producer_client.get(episode.get_absolute_url()).content.decode()
    assert "Generated at 12 fps" in page and "hold (each drawing held" in page and "(default:" in page
