"""Render an episode from the terminal, in this process, with a progress bar.

    python manage.py render_episode 12
    python manage.py render_episode --project "Pilot" --title "Ep 1" --synopsis "A girl finds a dragon."
"""

from __future__ import annotations

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from productions.forms import EpisodeForm
from productions.lib.spec import DELIVERY_SPEC
from productions.models import Episode, Project
from productions.render import EpisodeRender
from productions.storyboard import draft_or_error, render_refusal
from productions.validation import MAX_TITLE_CHARS, text_problem

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Render (or resume) an episode in this process and print where the video is."

    def add_arguments(self, parser) -> None:
        parser.add_argument("episode", nargs="?", type=int, help="id of an existing episode")
        parser.add_argument("--project", help="project name (created if missing) for a new episode")
        parser.add_argument("--title")
        parser.add_argument("--synopsis")
        parser.add_argument("--style", default="")
        parser.add_argument("--seed", default="0")
        parser.add_argument("--duration", default=str(DELIVERY_SPEC.min_duration_s))
        parser.add_argument("--segments", default="", help="a fixed count (default: as the model's runs need)")
        parser.add_argument("--backend", default="")
        parser.add_argument("--model", default="", help="a video model (manage.py plan --list)")

    def handle(self, *args, **opts) -> None:
        episode = self.existing(opts["episode"]) if opts["episode"] else self.create(opts)
        if episode.status == Episode.Status.DELIVERED:
            self.stdout.write(f"Episode {episode.pk} is already delivered: {episode.final_file}")
            return
        if episode.is_active and episode.claimed_by:
            raise CommandError(f"Episode {episode.pk} is being rendered by {episode.claimed_by}.")
        waiting = None if episode.is_active else render_refusal(episode)
        if waiting:
            raise CommandError(f"Episode {episode.pk} is not started: {waiting}")
        episode.queue_render()
        plan, _ = episode.plan_or_error()
        self.segments = len(plan.segments) if plan else 1  # for the progress line
        status = EpisodeRender(episode, on_event=self.show).run()
        sys.stderr.write("\n")
        episode.refresh_from_db()
        if status == Episode.Status.REVIEW:  # rendered and conforming: a producer approves the segments
            self.stdout.write(self.style.SUCCESS(
                f"Rendered episode {episode.pk} (awaiting review: approve its segments to deliver it): "
                f"{episode.final_file}"))
            return
        if status != Episode.Status.DELIVERED:
            raise CommandError(f"Episode {episode.pk} ended {status}: {episode.error}")
        self.stdout.write(self.style.SUCCESS(f"Delivered episode {episode.pk}: {episode.final_file}"))

    def existing(self, pk: int) -> Episode:
        episode = Episode.objects.filter(pk=pk).first()
        if episode is None:
            raise CommandError(f"Episode {pk} does not exist.")
        return episode

    def create(self, opts: dict) -> Episode:
        if not (opts["project"] and opts["title"] and opts["synopsis"]):
            raise CommandError("Give an episode id, or --project, --title and --synopsis for a new one.")
        problem = text_problem(opts["project"], max_length=MAX_TITLE_CHARS)
        if problem:
            raise CommandError(f"Invalid project name: {problem}")
        form = EpisodeForm(data={
            "title": opts["title"], "synopsis": opts["synopsis"], "style": opts["style"],
            "seed": opts["seed"], "duration_s": opts["duration"],
            "segment_count": opts["segments"], "backend": opts["backend"], "upscaler": "",
            "video_model": opts["model"],
            "width": DELIVERY_SPEC.width, "height": DELIVERY_SPEC.height, "fps": DELIVERY_SPEC.fps,
            "min_bitrate_bps": DELIVERY_SPEC.min_bitrate_bps,
        })
        if not form.is_valid():
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            raise CommandError(f"Invalid episode: {problems}")
        with transaction.atomic():
            project, _ = Project.objects.get_or_create(name=opts["project"])
            episode = form.save(commit=False)
            episode.project = project
            episode.created_by = get_user_model().objects.filter(is_superuser=True).first()
            episode.save()
        draft_or_error(episode)  # its storyboard; a plan error fails the render below with the same words
        self.stdout.write(f"Created episode {episode.pk} in project {project.name!r}.")
        return episode

    def show(self, event: dict) -> None:
        if event.get("type") == "progress":
            done = (event["segment"] + event["progress"]) / self.segments
            filled = int(BAR_WIDTH * done)
            sys.stderr.write(f"\r\033[K[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:6.1%} "
                             f"segment {event['segment'] + 1}/{self.segments} step {event['step']}/{event['total']}")
        elif event.get("type") == "episode" and event.get("stage"):
            sys.stderr.write(f"\r\033[K{event['stage']}\n")
        sys.stderr.flush()
