"""Check any video file: automatic QA (and the delivery-spec conformance check), printed as JSON.

    python manage.py qa FILE [--boundaries 5.2,10.4] [--transitions 120-132,300-312] [--no-conformance]
                             [--no-thumbnails]

--boundaries: seconds where segments join continuously (the seam check looks there, and the ghosting check for
dissolves in full: a shot dissolved into itself is found reliably only at a boundary given here); --transitions: frame
ranges [start-end) of the dissolves and fades through black the producer chose (left out of the ghosting,
black-frame, flicker and blur checks).

Exit code 0 when everything passes, 1 when a blocking check fails, 2 for bad input (no such file, bad options).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from productions.lib.conformance import check_conformance
from productions.lib.ffmpeg import FFmpegError
from productions.lib.qa import check_video_file
from productions.lib.spec import DELIVERY_SPEC


def parse_boundaries(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--boundaries must be seconds separated by commas, like 5.2,10.4 (got {text!r})",
                           returncode=2) from None
    if any(v <= 0 for v in values) or values != sorted(values):
        raise CommandError("--boundaries must be positive and in increasing order", returncode=2)
    return values


def parse_transitions(text: str | None) -> list[tuple[int, int]]:
    if not text:
        return []
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        start, sep, end = part.partition("-")
        try:
            if not sep:
                raise ValueError
            pair = (int(start), int(end))
        except ValueError:
            raise CommandError(f"--transitions must be frame ranges start-end separated by commas, like "
                               f"120-132,300-312 (got {text!r})", returncode=2) from None
        if pair[0] < 0 or pair[1] <= pair[0]:
            raise CommandError(f"--transitions: each range needs 0 <= start < end (got {part!r})", returncode=2)
        out.append(pair)
    if any(b[0] < a[1] for a, b in zip(out, out[1:], strict=False)):
        raise CommandError("--transitions must be in increasing order and must not overlap", returncode=2)
    return out


class Command(BaseCommand):
    help = "QA a video file (segment seams at --boundaries, in seconds) and print the report as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--boundaries", help="segment boundaries in seconds, e.g. 5.2,10.4")
        parser.add_argument("--transitions", help="chosen dissolves/fades as frame ranges, e.g. 120-132,300-312")
        parser.add_argument("--no-conformance", action="store_true", help="skip the delivery-spec check")
        parser.add_argument("--no-thumbnails", action="store_true", help="leave worst-frame thumbnails out")

    def handle(self, *args, file: Path, boundaries: str | None, no_conformance: bool, no_thumbnails: bool,
               transitions: str | None = None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file} does not exist or is not a file", returncode=2)
        seams = parse_boundaries(boundaries)
        chosen = parse_transitions(transitions)
        try:
            qa = check_video_file(file, seams, thumbnails=not no_thumbnails, transitions=chosen)
        except FFmpegError as exc:
            raise CommandError(f"{file} could not be decoded as video: {exc}", returncode=2) from None
        report = {"file": str(file), "passed": qa.passed, "qa": qa.as_dict()}
        passed = qa.passed
        if not no_conformance:
            conformance = check_conformance(file, DELIVERY_SPEC)
            report["conformance"] = conformance.as_dict()
            passed = passed and conformance.passed
        report["passed"] = passed
        self.stdout.write(json.dumps(report, indent=2, default=str))
        if not passed:
            sys.exit(1)
