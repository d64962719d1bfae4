"""The time-left estimate: the one place it is computed, for the page, the snapshots and the progress events.

An episode's time left covers every stage: the running segment (the rest of its generation at the pace so far,
then post-processing as long as it took the finished ones), the segments still waiting (each as long as the
finished ones took on average), then the stitch (encode, episode QA and delivery conformance), which on a long
episode is the longest stage.

The stitch is estimated from measured timings: seconds per output megapixel-frame (frames x width x height /
10^6) of this episode's last stitch, else of the latest stitch on this instance, else the defaults below.
Measured on a loaded 2-core CI machine (x264 preset "ultrafast", 1280x720, 48 frames): encode with episode QA
0.012 s, conformance 0.00005 s per megapixel-frame; the defaults round up for slower presets, and the first
stitch an instance makes replaces them with its own pace.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F

from productions.models import Episode, Segment

ETA_MIN_PROGRESS = 0.02  # below this a segment's ETA is noise
# Seconds per output megapixel-frame, measured (see the module's docstring).
DEFAULT_ENCODE_S_PER_MPF = 0.02
DEFAULT_CONFORMANCE_S_PER_MPF = 0.001
STITCH_STAGES = ("stitching", "conformance")


def segment_eta_s(elapsed_s: float, progress: float, post_s: float | None = None) -> float | None:
    """Time left for a segment `elapsed_s` into its work at `progress`: the rest of generation at the pace so
    far, plus post-processing as long as it took the episode's finished segments (when any finished)."""
    if progress < ETA_MIN_PROGRESS or elapsed_s <= 0:
        return None
    post = post_s or 0.0
    if progress >= Segment.GENERATION_SHARE:  # post-processing: no steps to measure; say what is left of the usual
        return round(post, 1) if post_s else None
    return round(elapsed_s * (Segment.GENERATION_SHARE - progress) / progress + post, 1)


@dataclass(frozen=True)
class StitchEstimate:
    encode_s: float
    conformance_s: float
    source: str  # "this episode", "last stitch", "default"

    @property
    def total_s(self) -> float:
        return round(self.encode_s + self.conformance_s, 1)


def stitch_rates(timings: dict) -> tuple[float, float] | None:
    """(encode, conformance) seconds per megapixel-frame a stitch's timings show, or None without them."""
    frames, mpf = timings.get("stitch_frames"), timings.get("stitch_megapixel_frames")
    encode, conformance = timings.get("stitch_encode_s"), timings.get("conformance_s")
    if not frames or not mpf or encode is None:
        return None
    return encode / mpf, (conformance or 0.0) / mpf


def stitch_estimate(megapixel_frames: float, own_timings: dict | None = None,
                    last_timings: dict | None = None) -> StitchEstimate:
    """How long the stitch of `megapixel_frames` takes, from this episode's last stitch, the instance's, or
    the defaults."""
    for timings, source in ((own_timings, "this episode"), (last_timings, "last stitch")):
        rates = stitch_rates(timings or {})
        if rates:
            return StitchEstimate(rates[0] * megapixel_frames, rates[1] * megapixel_frames, source)
    return StitchEstimate(DEFAULT_ENCODE_S_PER_MPF * megapixel_frames,
                          DEFAULT_CONFORMANCE_S_PER_MPF * megapixel_frames, "default")


def episode_eta_s(*, running_eta_s: float | None, waiting: int, per_segment_s: float | None,
                  stitch: StitchEstimate | None, stage: str = "", stage_elapsed_s: float = 0.0) -> float | None:
    """Time left for the whole render: segments, then the stitch. None while nothing measures the segments
    yet (the first segment under ETA_MIN_PROGRESS)."""
    stitch_s = stitch.total_s if stitch else 0.0
    if stage == "stitching" and stitch:
        return round(max(stitch.encode_s - stage_elapsed_s, 0.0) + stitch.conformance_s, 1)
    if stage == "conformance" and stitch:
        return round(max(stitch.conformance_s - stage_elapsed_s, 0.0), 1)
    if running_eta_s is not None:
        return round(running_eta_s + waiting * (per_segment_s or 0.0) + stitch_s, 1)
    if waiting:
        return round(waiting * per_segment_s + stitch_s, 1) if per_segment_s is not None else None
    return round(stitch_s, 1) if stitch else None


def episode_stitch_estimate(episode: Episode) -> StitchEstimate:
    """The stitch estimate for `episode` (its delivered frames at its delivery size)."""
    plan, _error = episode.plan_or_error()
    frames = plan.total_frames if plan else round(episode.duration_s * episode.fps)
    megapixel_frames = frames * episode.width * episode.height / 1e6
    last = None
    if not stitch_rates(episode.timings or {}):
        last = (Episode.objects.filter(timings__has_key="stitch_megapixel_frames").exclude(pk=episode.pk)
                .order_by(F("finished_at").desc(nulls_last=True)).values_list("timings", flat=True).first())
    return stitch_estimate(megapixel_frames, episode.timings or {}, last)
