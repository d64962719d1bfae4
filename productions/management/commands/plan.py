"""`manage.py plan`: the generation models and the plan an episode would get, without rendering anything.

    manage.py plan --list [--json]                      the model profiles
    manage.py plan --model wan22_ti2v_5b --duration 30 --json
    manage.py plan --episode 12 [--json]                an episode's own plan (what its page and the API show)
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from productions.catalog import default_video_model, profiles, video_model
from productions.lib.interpolation import resolve_profile
from productions.lib.model_profiles import ProfileError
from productions.lib.planning import EpisodePlan, parse_joins, plan_episode
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec
from productions.models import Episode


class Command(BaseCommand):
    help = "List the generation models, or print the plan of an episode or of a model and duration."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--list", action="store_true", help="list the model profiles")
        parser.add_argument("--model", help="a video model profile (default: the instance's)")
        parser.add_argument("--episode", type=int, help="plan this episode, with its own settings")
        parser.add_argument("--duration", type=float, default=DELIVERY_SPEC.min_duration_s, help="seconds")
        parser.add_argument("--fps", type=int, default=DELIVERY_SPEC.fps, help="delivery frame rate")
        parser.add_argument("--width", type=int, default=DELIVERY_SPEC.width)
        parser.add_argument("--height", type=int, default=DELIVERY_SPEC.height)
        parser.add_argument("--segments", type=int, default=None, help="a fixed count (default: one run each)")
        parser.add_argument("--transitions", default="", help="e.g. '3: cut; 5: dissolve 12'")
        parser.add_argument("--interpolation", default="", help="none, hold, mci, rife, blend (default: the model's)")
        parser.add_argument("--native-fps", type=int, default=None, help="generation rate (default: the model's)")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **opts) -> None:
        if opts["list"]:
            found = sorted(profiles().values(), key=lambda p: (p.kind, p.backend, p.name))
            if opts["json"]:
                self.stdout.write(json.dumps([p.as_dict() for p in found], indent=2))
                return
            for p in found:
                run = f"{p.frames_per_run} frames/run" if p.frames_per_run else "no run limit" \
                    if p.kind == "video" else "image"
                rate = f"{p.native_fps} fps" if p.native_fps else ("any rate" if p.kind == "video" else "")
                vram = f"~{p.vram_gb:g} GB VRAM" if p.vram_gb else "VRAM unknown"
                self.stdout.write(f"{p.name:20} {p.kind:5} {p.backend:8} {p.native_width}x{p.native_height:<5} "
                                  f"{run:16} {rate:9} {vram:16} {p.label}")
            return
        try:
            plan = self.episode_plan(opts["episode"]) if opts["episode"] else self.model_plan(opts)
        except (ValueError, ProfileError) as exc:  # PlanError, ProfileError and the transitions' own errors
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(plan.as_dict(), indent=2))
            return
        self.print_plan(plan)

    def episode_plan(self, pk: int) -> EpisodePlan:
        episode = Episode.objects.filter(pk=pk).first()
        if episode is None:
            raise CommandError(f"no episode {pk}")
        plan, error = episode.plan_or_error()
        if plan is None:
            raise CommandError(error or "no plan")
        return plan

    def model_plan(self, opts: dict) -> EpisodePlan:
        from django.conf import settings

        model = video_model(opts["model"]) if opts["model"] else default_video_model(settings.TOWER_BACKEND)
        fps = opts["fps"]
        spec = DeliverySpec(width=opts["width"], height=opts["height"], fps=fps, min_duration_s=opts["duration"])
        rate = resolve_profile(model, fps, opts["native_fps"], opts["interpolation"])
        if rate.native_fps > fps:
            raise CommandError(f"generate at most at the delivery rate ({fps} fps)")
        size = settings.TOWER_NATIVE_SIZE or model.size_for(spec.width, spec.height)
        return plan_episode(
            "", 0, spec, duration_s=opts["duration"], segments=opts["segments"],
            joins=lambda count: parse_joins(opts["transitions"], count), native_fps=rate.native_fps,
            interpolation=rate.interpolation, run=model.run, model=model.name, native_size=tuple(size),
        )

    def print_plan(self, plan: EpisodePlan) -> None:
        d = plan.as_dict()
        self.stdout.write(
            f"{d['model']}: {d['native_width']}x{d['native_height']} at {d['native_fps']} fps -> {d['fps']} fps by "
            f"{d['interpolation']}, upscale x{d['upscale_factor']}; {len(d['segments'])} segments, "
            f"{d['total_frames']} frames ({d['duration_s']:g} s)")
        for s in d["segments"]:
            join = s["join"] + (f" {s['join_frames']}" if s["join_frames"] else "")
            self.stdout.write(f"  {s['index'] + 1:3}  {join:14} native {s['native_frames']:4}  "
                              f"delivered {s['delivered_frames']:4}")
