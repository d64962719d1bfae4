"""Write an episode's delivery package (productions.delivery_package) from the terminal.

    python manage.py export_episode 12 /deliveries/
    python manage.py export_episode 12 /deliveries/ --unpacked

Writes OUT_DIR/<title>-package.zip, the same file the episode page's download serves (built here, or taken
from the episode's cache when it is current); with --unpacked also OUT_DIR/<title>-package/, its contents
unpacked (edit.otio beside clips/: an editor opens it in place).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from productions.delivery_package import PackageUnavailable, build, package_input
from productions.downloads import download_name
from productions.lib.ffmpeg import FFmpegError
from productions.models import Episode


class Command(BaseCommand):
    help = "Write an episode's delivery package (final video, segment clips, reports, OTIO edit) to a folder."

    def add_arguments(self, parser) -> None:
        parser.add_argument("episode", type=int, help="id of the episode")
        parser.add_argument("out_dir", help="folder to write the package into (made if missing)")
        parser.add_argument("--unpacked", action="store_true", help="also unpack the ZIP into a folder beside it")

    def handle(self, *args, **opts) -> None:
        episode = Episode.objects.filter(pk=opts["episode"]).select_related("project").first()
        if episode is None:
            raise CommandError(f"Episode {opts['episode']} does not exist.")
        out_dir = Path(opts["out_dir"])
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} is not a folder.")
        try:
            package = package_input(episode)
            self.stderr.write(f"Packaging episode {episode.pk} ({len(package.segments)} segments)...")
            built = build(episode, package)
        except PackageUnavailable as exc:
            raise CommandError(str(exc)) from None
        except (FFmpegError, OSError, ValueError) as exc:
            raise CommandError(f"The package could not be made: {exc}") from None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / download_name(episode, "-package.zip")
            shutil.copyfile(built, target)
            written = [target]
            if opts["unpacked"]:
                folder = target.with_suffix("")
                shutil.rmtree(folder, ignore_errors=True)
                with zipfile.ZipFile(target) as archive:
                    archive.extractall(folder)
                written.append(folder)
        except OSError as exc:
            raise CommandError(f"Cannot write to {out_dir}: {exc}") from None
        for path in written:
            self.stdout.write(self.style.SUCCESS(f"Wrote {path}"))
