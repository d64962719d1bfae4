"""Episode versions: every delivery is kept, and a delivered episode can be reopened to make the next one.

When an episode is delivered, its final video is kept as that version's file: a hard link (a copy where the
file system has none) at `versions/vN/final.mp4` in the episode's folder. The stitch renames a new final.mp4
into place and never writes into the old one, so a delivered version's bytes never change. Reopening a
delivered episode puts it back in review and opens version N+1 (a row with no delivery yet); its segments keep
their verdicts, so the producer rejects what should change and renders it (productions.decisions). While the
new final is being made the page marks the current one out of date.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from productions.events import publish_episode_event
from productions.models import Episode, EpisodeVersion, file_fingerprint
from productions.review import ReviewError


def keep_file(final: Path, target: Path) -> None:
    """`target` becomes the same bytes as `final`: a hard link, or a copy (written aside, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(final, target)
    except OSError:
        partial = target.with_name(target.name + ".partial")
        shutil.copy2(final, partial)
        os.replace(partial, target)


def last_reviewer(episode: Episode):
    segment = episode.segments.filter(reviewed_by__isnull=False).order_by("-reviewed_at").first()
    return segment.reviewed_by if segment else None


def duration_s(episode: Episode) -> float | None:
    plan, _error = episode.plan_or_error()
    return round(plan.duration_s, 3) if plan else None


def record_delivery(episode: Episode, user=None) -> EpisodeVersion | None:
    """The episode was just delivered: keep its final as the open version's file (opening version 1 for a
    first delivery). None if it has no final video on disk."""
    final = episode.final_file
    if final is None:
        return None
    fingerprint = file_fingerprint(final)
    with transaction.atomic():
        versions = EpisodeVersion.objects.select_for_update().filter(episode=episode)
        latest = versions.order_by("-number").first()
        if latest is not None and latest.is_delivered:
            if latest.fingerprint == fingerprint:
                return latest  # this final is already kept (recorded twice: nothing new)
            latest = None
        elif latest is not None:
            previous = versions.filter(number__lt=latest.number, delivered_at__isnull=False).order_by(
                "-number").first()
            if previous is not None and previous.fingerprint == fingerprint:
                latest.delete()  # reopened, then delivered again unchanged: still the previous version
                return previous
        if latest is None:
            number = (versions.aggregate(n=Max("number"))["n"] or 0) + 1
            latest = EpisodeVersion(episode=episode, number=number)
        target = episode.media_dir / "versions" / f"v{latest.number}" / final.name
        keep_file(final, target)
        latest.final_path = os.fspath(target.relative_to(settings.MEDIA_ROOT))
        latest.fingerprint = fingerprint
        latest.size = target.stat().st_size
        latest.duration_s = duration_s(episode)
        latest.delivered_at = timezone.now()
        latest.delivered_by = user or last_reviewer(episode)
        latest.save()
    return latest


def reopen(episode: Episode, user) -> EpisodeVersion:
    """Put a delivered episode back in review and open its next version. 409 unless it is delivered."""
    episode.refresh_from_db()
    if episode.status != Episode.Status.DELIVERED:
        raise ReviewError(409, f"Only a delivered episode can be reopened: this one is "
                               f"{episode.get_status_display().lower()}.")
    delivered = record_delivery(episode)  # delivered before versions were kept: version 1 is its final now
    try:
        with transaction.atomic():
            if not Episode.objects.filter(pk=episode.pk, status=Episode.Status.DELIVERED).update(
                    status=Episode.Status.REVIEW, updated_at=timezone.now()):
                raise ReviewError(409, "The episode was reopened meanwhile.")
            number = (EpisodeVersion.objects.filter(episode=episode).aggregate(n=Max("number"))["n"] or 0) + 1
            version = EpisodeVersion.objects.create(episode=episode, number=number, reopened_by=user)
    except IntegrityError:  # two reopen clicks at once: the other one opened it
        raise ReviewError(409, "The episode was reopened meanwhile.") from None
    episode.refresh_from_db()
    publish_episode_event(episode, {"type": "episode", "status": episode.status, "reopened": version.number,
                                    "from": delivered.number if delivered else None})
    return version


def versions_of(episode: Episode) -> list[EpisodeVersion]:
    return list(EpisodeVersion.objects.filter(episode=episode).select_related("delivered_by", "reopened_by")
                .order_by("-number"))


def open_version(episode: Episode) -> EpisodeVersion | None:
    """The version being made (reopened, not delivered yet), if any."""
    return EpisodeVersion.objects.filter(episode=episode, delivered_at__isnull=True).order_by("-number").first()

