"""The delivery package of a really rendered tiny episode (3 segments: a dissolve, then a fade through black),
downloaded through the episode's package URL and written by `manage.py export_episode`: its files, its
manifest, its OpenTimelineIO edit read back by opentimelineio, who may download it.

One episode is rendered and packaged for the whole module (committed to the test database, removed at the
end); each test reads the package."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from tests.conftest import client_for, render_now, small_episode

pytestmark = [pytest.mark.slow, pytest.mark.django_db]  # every test: the module's database must be set up

DISSOLVE, FADE = 6, 5


def frame_count(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def download(client, url: str, timeout_s: float = 120) -> bytes:
    """GET the package URL until the package is ready (202 while it is built), then its bytes."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(url)
        if response.status_code == 200:
            return b"".join(response.streaming_content)
        assert response.status_code == 202, response.content[:500]
        assert response["Refresh"]
        assert time.monotonic() < deadline, "the package was not built in time"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def packaged(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.contrib.auth import get_user_model

    from productions.models import Membership, Note, Project, Segment
    from productions.storyboard import draft, update_shot

    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        make = get_user_model().objects.create_user
        users = {role: make(f"pkg-{role}", password="pkg-secret-123") for role in ("producer", "viewer", "outsider")}
        project = Project.objects.create(name="Package pilot")
        Membership.objects.create(project=project, user=users["producer"], role=Membership.PRODUCER)
        Membership.objects.create(project=project, user=users["viewer"], role=Membership.VIEWER)
        episode = small_episode(project, title="Fox & lantern", segment_count=3)
        draft(episode)
        update_shot(episode, episode.storyboard_version, 1, join="dissolve", join_frames=DISSOLVE, duration_s=1.0)
        episode.refresh_from_db()
        update_shot(episode, episode.storyboard_version, 2, join="fade", join_frames=FADE, duration_s=1.0)
        status = render_now(episode)
        episode.refresh_from_db()
        assert status == "review", (episode.error, episode.error_details[-2000:])
        Segment.objects.filter(episode=episode).update(review=Segment.Review.APPROVED, reviewed_at=timezone.now(),
                                                       reviewed_by=users["producer"])
        episode.refresh_from_db()
        assert episode.deliver_if_ready()
        segments = list(episode.segments.order_by("index"))
        notes = [
            Note.objects.create(episode=episode, author=users["producer"], text="Lantern flickers too early",
                                frame_start=10, frame_end=14),
            Note.objects.create(episode=episode, segment=segments[1], attempt_number=1, author=users["viewer"],
                                text="Fox's tail <clipped>", frame_start=3, frame_end=5),
            Note.objects.create(episode=episode, segment=segments[0], text="Good opening", frame_start=0,
                                frame_end=0, resolved=True),
        ]
        url = f"/episodes/{episode.pk}/package/"
        data = download(client_for(users["producer"]), url)
        folder = tmp_path_factory.mktemp("package")
        (folder / "package.zip").write_bytes(data)
        with zipfile.ZipFile(folder / "package.zip") as archive:
            archive.extractall(folder / "unpacked")
        yield {"episode": episode, "segments": segments, "notes": notes, "users": users, "url": url,
               "zip": folder / "package.zip", "root": folder / "unpacked", "media": media, "tmp": folder}
    with django_db_blocker.unblock():
        project.delete()
        for user in users.values():
            user.delete()


@pytest.fixture(autouse=True)
def media_root(packaged, settings):
    """The module's rendered episode's media (instead of conftest's folder per test)."""
    settings.MEDIA_ROOT = packaged["media"]
    return packaged["media"]


def test_zip_holds_the_final_clips_reports_edit_and_a_true_manifest(packaged):
    episode, segments = packaged["episode"], packaged["segments"]
    with zipfile.ZipFile(packaged["zip"]) as archive:
        entries = {info.filename: info for info in archive.infolist()}
    clips = [f"clips/segment-{i:02d}.mp4" for i in (1, 2, 3)]
    natives = [f"sources/segment-{i:02d}-native.mkv" for i in (1, 2, 3)]
    assert set(entries) == {"final.mp4", "edit.otio", "manifest.json", "README.txt", "reports/qa.json",
                            "reports/conformance.json", "reports/index.html", *clips, *natives}
    for name in ("final.mp4", *clips, *natives):  # videos are stored as they are
        assert entries[name].compress_type == zipfile.ZIP_STORED
    root = packaged["root"]
    assert (root / "final.mp4").read_bytes() == episode.final_file.read_bytes()
    for segment, name in zip(segments, clips, strict=True):  # each clip: the segment's frames in the edit
        assert frame_count(root / name) == segment.delivered_frames

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["episode"]["id"] == episode.pk and manifest["episode"]["status"] == "delivered"
    assert manifest["spec"]["fps"] == 24 and manifest["spec"]["frames"] == frame_count(root / "final.mp4")
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(entries) - {"manifest.json"}
    for name, entry in listed.items():
        data = (root / name).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()

    conformance = json.loads((root / "reports/conformance.json").read_text())
    assert conformance["kind"] == "conformance" and conformance["passed"] is True and conformance["checks"]
    qa = json.loads((root / "reports/qa.json").read_text())
    assert {r["kind"] for r in qa} == {"episode", "segment"}
    assert sorted(r["segment"] for r in qa if r["segment"]) == [1, 2, 3]
    page = (root / "reports/index.html").read_text()
    assert "Delivery conformance" in page and "Fox &amp; lantern" in page
    assert "Fox&#x27;s tail &lt;clipped&gt;" in page  # notes are escaped


def test_otio_edit_matches_the_episode(packaged):
    import opentimelineio as otio

    segments, root = packaged["segments"], packaged["root"]
    timeline = otio.adapters.read_from_file(str(root / "edit.otio"))
    [track] = timeline.tracks
    clips = list(track.find_clips())
    assert len(clips) == len(segments) == 3
    # The edit lasts exactly as long as the final video, frame for frame.
    assert track.duration() == otio.opentime.RationalTime(frame_count(root / "final.mp4"), 24)
    transitions = [item for item in track if isinstance(item, otio.schema.Transition)]

    # Each clip references its packaged clip (all its delivered frames available)...
    for clip, segment in zip(clips, segments, strict=True):
        reference = clip.media_reference
        assert (root / reference.target_url).is_file()
        assert reference.available_range.duration.to_frames() == segment.delivered_frames
    # ... and shows them all but what its joins' transitions take from either side (the handles).
    first, second, third = clips
    dissolve = transitions[0]
    assert dissolve.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert (dissolve.in_offset + dissolve.out_offset).to_frames() == DISSOLVE
    fade_down, fade_up = transitions[1:]
    assert (fade_down.in_offset + fade_up.out_offset).to_frames() == FADE
    assert fade_down.out_offset.to_frames() == fade_up.in_offset.to_frames() == 0
    assert len(transitions) == 3
    gap = track[track.index(fade_down) + 1]
    assert isinstance(gap, otio.schema.Gap) and gap.duration().to_frames() == 0
    hidden_after_fade = FADE - (FADE + 1) // 2  # the outgoing clip's frames under the incoming one's fade-up
    assert first.source_range.start_time.to_frames() == 0
    assert first.duration().to_frames() + dissolve.out_offset.to_frames() == segments[0].delivered_frames
    assert second.source_range.start_time == dissolve.in_offset
    assert (dissolve.in_offset.to_frames() + second.duration().to_frames() + hidden_after_fade
            == segments[1].delivered_frames)
    assert third.source_range.start_time.to_frames() == (FADE + 1) // 2
    assert third.source_range.end_time_exclusive().to_frames() == segments[2].delivered_frames
    # Continuous joins would be plain adjacency: the cut between clips and nothing else.
    assert [c.metadata["tower"]["join"] for c in clips] == [s.join for s in segments] == ["cut", "dissolve", "fade"]

    # Notes: the final video's on the track, a segment's on its clip, at their frames.
    def marked(markers):
        return [(m.name, m.marked_range.start_time.to_frames(), m.marked_range.duration.to_frames(), m.color)
                for m in markers]

    assert marked(track.markers) == [("Lantern flickers too early", 10, 5, otio.schema.MarkerColor.RED)]
    assert marked(second.markers) == [("Fox's tail <clipped>", 3, 3, otio.schema.MarkerColor.RED)]
    assert marked(first.markers) == [("Good opening", 0, 1, otio.schema.MarkerColor.GREEN)]
    assert marked(third.markers) == []
    assert second.markers[0].metadata["tower"]["author"] == "pkg-viewer"


def test_export_command_writes_the_downloaded_package(packaged, tmp_path, capsys):
    episode = packaged["episode"]
    call_command("export_episode", str(episode.pk), str(tmp_path / "out"), "--unpacked")
    [written] = (tmp_path / "out").glob("*.zip")
    assert written.name == "Fox & lantern-package.zip"
    assert written.read_bytes() == packaged["zip"].read_bytes()
    assert (tmp_path / "out" / "Fox & lantern-package" / "edit.otio").is_file()
    assert "Wrote" in capsys.readouterr().out


def test_export_command_refuses_in_words(packaged, tmp_path):
    from productions.models import Episode

    with pytest.raises(CommandError, match="Episode 999999 does not exist"):
        call_command("export_episode", "999999", str(tmp_path))
    draft = small_episode(packaged["episode"].project, title="Not yet")
    with pytest.raises(CommandError, match=f"Episode {draft.pk} is draft"):
        call_command("export_episode", str(draft.pk), str(tmp_path))
    Episode.objects.filter(pk=draft.pk).update(status=Episode.Status.DELIVERED)
    with pytest.raises(CommandError, match=f"Episode {draft.pk} has no final video"):
        call_command("export_episode", str(draft.pk), str(tmp_path))


def test_who_may_download(packaged):
    users, url = packaged["users"], packaged["url"]
    response = client_for(users["viewer"]).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == packaged["zip"].read_bytes()
    assert response["Content-Disposition"].startswith("inline; filename=")
    ranged = client_for(users["viewer"]).get(url, HTTP_RANGE="bytes=0-3")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"PK\x03\x04"
    assert client_for(users["outsider"]).get(url).status_code == 404
    assert client_for(users["producer"]).get(url, {"retry": "1"}).status_code == 302  # no failure: back to it
    page = client_for(users["producer"]).get(f"/episodes/{packaged['episode'].pk}/").content.decode()
    assert f'href="{url}" id="package-download"' in page
    draft = small_episode(packaged["episode"].project, title="Not yet")
    assert client_for(users["producer"]).get(f"/episodes/{draft.pk}/package/").status_code == 404


@pytest.mark.parametrize("mode", ["x-accel-redirect", "x-sendfile"])
def test_the_front_web_server_sends_the_package(packaged, settings, mode):
    settings.TOWER_SENDFILE, settings.TOWER_SENDFILE_PREFIX = mode, "/protected-media/"
    response = client_for(packaged["users"]["viewer"]).get(packaged["url"])
    assert response.status_code == 200 and response.content == b""
    pk = packaged["episode"].pk
    named = response["X-Accel-Redirect" if mode == "x-accel-redirect" else "X-Sendfile"]
    assert named.startswith("/protected-media/" if mode == "x-accel-redirect" else str(packaged["media"]))
    assert f"episodes/{pk}/package/" in named and named.endswith(".zip")


def test_the_api_serves_the_same_package(packaged):
    pk, users = packaged["episode"].pk, packaged["users"]
    response = client_for(users["viewer"]).get(f"/api/episodes/{pk}/package")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == packaged["zip"].read_bytes()
    assert client_for(users["outsider"]).get(f"/api/episodes/{pk}/package").json() == {
        "detail": f"Episode {pk} does not exist."}
    assert client_for(users["outsider"]).get(f"/api/episodes/{pk}/package").status_code == 404
    draft = small_episode(packaged["episode"].project, title="Not yet")
    refused = client_for(users["producer"]).get(f"/api/episodes/{draft.pk}/package")
    assert refused.status_code == 404 and "is draft" in refused.json()["detail"]


def test_a_new_note_makes_a_new_package_reusing_the_clips(packaged):
    import opentimelineio as otio

    from productions.models import Note

    episode, users, url = packaged["episode"], packaged["users"], packaged["url"]
    clips = list((packaged["media"] / "episodes" / str(episode.pk) / "package").glob("clips-*/*.mp4"))
    made = {p: p.stat().st_mtime_ns for p in clips}
    note = Note.objects.create(episode=episode, text="Hold the last frame", frame_start=40, frame_end=47)
    client = client_for(users["producer"])
    assert client.get(url).status_code == 202  # a new package is made...
    data = download(client, url)
    assert data != packaged["zip"].read_bytes()
    assert {p: p.stat().st_mtime_ns for p in clips} == made  # ... from the same clips
    (packaged["tmp"] / "new.zip").write_bytes(data)
    with zipfile.ZipFile(packaged["tmp"] / "new.zip") as archive:
        timeline = otio.adapters.read_from_string(archive.read("edit.otio").decode(), "otio_json")
    assert [m.name for m in timeline.tracks[0].markers] == ["Lantern flickers too early", "Hold the last frame"]
    note.delete()  # the same inputs again: the same bytes
    assert download(client, url) == packaged["zip"].read_bytes()


def test_the_edit_shows_what_the_final_shows(packaged):
    """Played from the packaged clips, the OTIO edit gives the final video's frames (outside its transitions,
    within the two encodes' loss): the clips and source ranges really are the final's."""
    import numpy as np
    import opentimelineio as otio

    from productions.lib.ffmpeg import read_frames

    root = packaged["root"]
    final = list(read_frames(root / "final.mp4", 320, 180))
    track = otio.adapters.read_from_file(str(root / "edit.otio")).tracks[0]
    under_transitions = set()
    for item in track:
        if isinstance(item, otio.schema.Transition):
            cut = track.range_of_child(track[track.index(item) + 1]).start_time.to_frames()
            under_transitions |= set(range(cut - item.in_offset.to_frames(), cut + item.out_offset.to_frames()))
    compared = 0
    for clip in track.find_clips():
        frames = list(read_frames(root / clip.media_reference.target_url, 320, 180))
        placed, first = track.range_of_child(clip).start_time.to_frames(), clip.source_range.start_time.to_frames()
        for k in range(clip.duration().to_frames()):
            if placed + k in under_transitions:
                continue
            difference = np.abs(final[placed + k].astype(int) - frames[first + k].astype(int)).mean()
            # The final's CBR encode (200 kb/s at this size) is not deterministic under x264's frame threads
            # (the same input gives other bytes run to run): its worst frame here, just after a cut, reads
            # 5.97-6.03 on the same code. A clip placed on the wrong side of that cut reads over 40.
            assert difference < 8, f"timeline frame {placed + k}: {difference:.1f} from {clip.name}"
            compared += 1
    assert compared == len(final) - len(under_transitions) > 30


def test_a_failed_build_says_why_and_can_be_tried_again(packaged):
    from productions.delivery_package import package_input, package_paths
    from productions.models import Note

    episode, url = packaged["episode"], packaged["url"]
    Note.objects.create(episode=episode, text="A new note: a new package", frame_start=1, frame_end=2)
    _, error, _ = package_paths(episode, package_input(episode))
    error.write_text("making the package clip of segment 2: ffmpeg exited with 1")
    client = client_for(packaged["users"]["producer"])
    response = client.get(url)
    assert response.status_code == 200 and "Refresh" not in response
    assert "could not be made: making the package clip of segment 2" in response.content.decode()
    assert client.get(url, {"retry": "1"}).status_code == 302
    assert not error.exists()

