"""Chaos: kill, stop and interrupt Tower's processes in every stage of a render, then check each episode with
probes of its own (not Tower's): ffprobe on the final file, the database read directly (sqlite3 / psycopg, no
Django), temporary files on disk, attempt rows.

    .venv/bin/python bench/chaos.py [--rounds N] [--shapes embedded,studio] [--seed S] [--lease-s 20]

Shapes: embedded (`manage.py up`: daphne + one worker, SQLite) and studio (PostgreSQL + Redis: `up --no-worker`
and two `run_huey`). Each round renders a small episode (320x180 delivery, TOWER_NATIVE_SIZE 320x180, ultrafast
x264, a short TOWER_LEASE_S) and, at a chosen stage (planning, keyframe, generating, post, stitching,
conformance), sends SIGKILL, SIGTERM or SIGINT to the worker holding it or to the whole of Tower:
- SIGINT goes to the target's process group, as a terminal's Ctrl-C does (`up`'s child worker: to it alone);
- SIGTERM to the target process (what `up` forwards, systemd and docker send);
- SIGKILL to the worker, or to `up` and every process under it (a crash, the OOM killer, a cgroup kill).
Then Tower is brought back the way an operator would: `up` restarts its own worker; a killed whole is started
again; in the studio shape a killed worker stays down until the round ends, so the other must take over.
Stages are caught by polling the database every few milliseconds: a stage shorter than that (planning,
conformance on a tiny file) can be missed; `stage_hits` says how many rounds hit the stage they aimed at.

The last lines: episodes_correct: X/N, stuck: N, orphan_temp_files: N, stale_running_attempts: N,
max_takeover_s: X (from the moment a live worker could take the episode to its claim by a new worker).
Uses its own temporary data folder, its own PostgreSQL database and Redis key prefix, and removes them after.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ["planning", "keyframe", "generating", "post", "stitching", "conformance"]
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
TARGETS = ["worker", "whole"]
DURATION_S, SEGMENTS = 6.0, 3
FINISH_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 60.0
POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Proc:
    """One process the bench started (in a session of its own, like a terminal of its own)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout: float) -> bool:
        try:
            self.popen.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill_tree(self) -> None:
        for pid in [*descendants(self.pid), self.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait(10)

    def stop(self) -> None:
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            if not self.wait(STOP_TIMEOUT_S):
                self.kill_tree()
        for pid in descendants(self.pid) if self.popen else []:  # nothing may outlive the bench
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Tower:
    """The processes of one shape: embedded = `up`; studio = `up --no-worker` and two `run_huey`."""

    def __init__(self, shape: str, env: dict[str, str], logs: Path):
        self.shape, self.env, self.logs = shape, env, logs
        manage = [sys.executable, str(ROOT / "manage.py")]
        self.port = free_port()
        up = [*manage, "up", "--port", str(self.port)]
        self.up = Proc("up", up + (["--no-worker"] if shape == "studio" else []), env, logs / "up.log")
        self.workers = [Proc(f"worker{i}", [*manage, "run_huey", "--workers", "1"], env, logs / f"worker{i}.log")
                        for i in range(2 if shape == "studio" else 0)]

    def roots(self) -> list[Proc]:
        return [self.up, *self.workers]

    def start(self) -> None:
        for proc in self.roots():
            if not proc.running():
                self.spawned_at = time.monotonic()
                proc.start()
        self.wait_ready()

    def worker_pids(self) -> list[int]:
        if self.shape == "studio":
            return [w.pid for w in self.workers if w.running()]
        return [pid for pid in descendants(self.up.pid) if "run_huey" in command_of(pid)] if self.up.running() else []

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.up.running() and len(self.worker_pids()) >= max(1, len(self.workers))
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                if ready:
                    time.sleep(1.0)  # the worker's start-up hooks
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.shape}: Tower did not start; see {self.logs}")

    def stop(self) -> None:
        for proc in self.roots():
            proc.stop()


# --- the probes: independent of Tower's code ---------------------------------------------------------------
class Database:
    def __init__(self, shape: str, target: str):
        self.shape, self.target = shape, target

    def query(self, sql: str, *params) -> list[tuple]:
        if self.shape == "embedded":
            with contextlib.closing(sqlite3.connect(self.target, timeout=30)) as db:
                return db.execute(sql, params).fetchall()
        import psycopg

        with psycopg.connect(self.target) as db:
            return db.execute(sql.replace("?", "%s"), params).fetchall()


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "json", str(path)],
                         capture_output=True, text=True)
    if out.returncode:
        return {}
    streams = json.loads(out.stdout).get("streams") or [{}]
    return streams[0]


def probe(db: Database, media: Path, pk: int) -> dict:
    for _ in range(50):  # a render sets its final status a moment before it releases its claim
        status, claimed_by, final_path = db.query(
            "SELECT status, claimed_by, final_path FROM productions_episode WHERE id = ?", pk)[0]
        if not claimed_by:
            break
        time.sleep(0.1)
    unfinished = db.query(
        "SELECT count(*) FROM productions_segment WHERE episode_id = ? AND status <> 'done'", pk)[0][0]
    running = db.query("SELECT count(*) FROM productions_segmentattempt a JOIN productions_segment s "
                       "ON a.segment_id = s.id WHERE s.episode_id = ? AND a.outcome = 'running'", pk)[0][0]
    folder = media / "episodes" / str(pk)
    temps = [p for p in folder.rglob("*") if ".tmp-" in p.name] if folder.exists() else []
    video = ffprobe(media / final_path) if final_path else {}
    expected = math.ceil(DURATION_S * 24)
    video_ok = (video.get("codec_name") == "h264" and video.get("width") == 320 and video.get("height") == 180
                and video.get("r_frame_rate") == "24/1" and int(video.get("nb_read_frames") or 0) == expected)
    correct = (status in ("review", "delivered") and claimed_by == "" and unfinished == 0 and running == 0
               and video_ok and not temps)
    return {"status": status, "claimed_by": claimed_by, "unfinished_segments": unfinished,
            "running_attempts": running, "temp_files": len(temps), "video_ok": video_ok, "video": video,
            "correct": correct}


# --- one shape ---------------------------------------------------------------------------------------------
def stage_now(pk: int) -> tuple[str, str, set[str]]:
    from productions.models import Episode, Segment

    status, stage = Episode.objects.values_list("status", "stage").get(pk=pk)
    return status, stage, set(Segment.objects.filter(episode_id=pk).values_list("status", flat=True))


def in_stage(stage: str, status: str, episode_stage: str, segments: set[str]) -> bool:
    if status != "rendering":
        return False
    return {"planning": episode_stage == "planning",
            "keyframe": episode_stage in ("keyframe", "keyframes"),
            "generating": "generating" in segments,
            "post": "post" in segments,
            "stitching": episode_stage == "stitching",
            "conformance": episode_stage == "conformance"}[stage]


class ClaimWatch(threading.Thread):
    """Every claim of the episode by a worker other than `holder`, seen every 50 ms: (when, by whom)."""

    def __init__(self, pk: int, holder: str):
        super().__init__(daemon=True)
        self.pk, self.holder = pk, holder
        self.claims: list[tuple[float, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from productions.models import Episode

        try:
            while not self.done.wait(0.05):
                claimed_by = Episode.objects.values_list("claimed_by", flat=True).get(pk=self.pk)
                if claimed_by and claimed_by != self.holder and claimed_by not in {c for _, c in self.claims}:
                    self.claims.append((time.monotonic(), claimed_by))
        finally:
            connection.close()

    def first_claim_after(self, moment: float) -> float | None:
        """The first claim at or after `moment` (a worker that was itself being stopped may claim the episode
        in between and hand it straight back: that is no takeover)."""
        return next((at for at, _ in self.claims if at >= moment), None)


def send(tower: Tower, target: str, signame: str, holder_pid: int | None) -> list[Proc | int]:
    """Send the round's signal; return what must end (Procs, or the pid of `up`'s child worker)."""
    signum = SIGNALS[signame]
    if target == "whole":
        victims: list = tower.roots()
        for proc in victims:
            if signum == signal.SIGKILL:
                for pid in [proc.pid, *descendants(proc.pid)]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            elif signum == signal.SIGINT:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in its terminal
            else:
                os.kill(proc.pid, signum)
        return victims
    if tower.shape == "studio":
        proc = next((w for w in tower.workers if w.pid == holder_pid), None) or random.choice(tower.workers)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signum)
        return [proc]
    pid = (tower.worker_pids() or [0])[0]
    if pid:
        os.kill(pid, signum)
    return [pid]


def ended(victim) -> bool:
    return not victim.running() if isinstance(victim, Proc) else not alive(victim)


def run_round(number: int, tower: Tower, project, db: Database, media: Path, stage: str, signame: str,
              target: str) -> dict:
    from productions.models import Episode
    from productions.tasks import start_render

    episode = Episode.objects.create(
        project=project, title=f"Chaos {number}", synopsis="A fox runs through snow. It finds a lantern. It rests.",
        seed=number, width=320, height=180, duration_s=DURATION_S, min_bitrate_bps=200_000, segment_count=SEGMENTS)
    start_render(episode)
    started = time.monotonic()
    hit, seen = False, ""
    while time.monotonic() - started < FINISH_TIMEOUT_S:
        status, episode_stage, segments = stage_now(episode.pk)
        if in_stage(stage, status, episode_stage, segments):
            hit, seen = True, stage
            break
        if status not in ("queued", "rendering") or (STAGES.index(stage) < 5 and episode_stage == "conformance"):
            seen = f"{status}/{episode_stage}"
            break  # the stage went by unseen: the signal lands wherever the render is
        time.sleep(0.003)
    holder = Episode.objects.values_list("claimed_by", flat=True).get(pk=episode.pk)
    holder_pid = int(holder.split(":")[1]) if holder.count(":") >= 2 else None
    watch = ClaimWatch(episode.pk, holder)
    watch.start()
    fired = time.monotonic()
    victims = send(tower, target, signame, holder_pid)
    stop_deadline = fired + STOP_TIMEOUT_S
    while not all(ended(v) for v in victims) and time.monotonic() < stop_deadline:
        time.sleep(0.05)
    stop_s = time.monotonic() - fired
    hung = [v for v in victims if not ended(v)]
    for victim in hung:
        victim.kill_tree() if isinstance(victim, Proc) else os.kill(victim, signal.SIGKILL)
    state_after_stop = Episode.objects.values_list("status", flat=True).get(pk=episode.pk)

    # Takeover is timed from the signal while a live worker remains or `up` restarts its own; from the spawn
    # of the new processes (their start-up included) when the whole of Tower had to be started again.
    replacement_at = fired
    if target == "whole" or not tower.up.running():
        tower.stop()
        tower.start()  # an operator (or systemd) starts Tower again
        replacement_at = tower.spawned_at
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while time.monotonic() < deadline:
        if Episode.objects.values_list("status", flat=True).get(pk=episode.pk) not in ("queued", "rendering"):
            break
        time.sleep(0.05)
    watch.done.set()
    watch.join()
    claimed_at = watch.first_claim_after(replacement_at)
    takeover_s = None if claimed_at is None else claimed_at - replacement_at
    stuck = Episode.objects.values_list("status", flat=True).get(pk=episode.pk) in ("queued", "rendering")
    if tower.shape == "studio":
        tower.start()  # the killed worker comes back for the next round
    elif not tower.up.running() or not tower.worker_pids():
        tower.stop()
        tower.start()
    result = probe(db, media, episode.pk)
    result.update(round=number, shape=tower.shape, stage=stage, signal=signame, target=target, hit=hit,
                  seen=seen, stop_s=round(stop_s, 2), hung=len(hung), after_stop=state_after_stop,
                  takeover_s=None if takeover_s is None else round(takeover_s, 2), stuck=stuck,
                  claims_after_fire_s=[round(at - fired, 2) for at, _ in watch.claims],
                  replacement_after_fire_s=round(replacement_at - fired, 2))
    return result


def run_shape(shape: str, rounds: int, seed: int, lease_s: int) -> list[dict]:
    rng = random.Random(seed)
    random.seed(seed)
    work = Path(tempfile.mkdtemp(prefix=f"tower-chaos-{shape}-"))
    tag = f"chaos{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env.update(DJANGO_SETTINGS_MODULE="tower.settings", PYTHONUNBUFFERED="1", TOWER_DATA_DIR=str(work / "data"),
               TOWER_NATIVE_SIZE="320x180", TOWER_X264_PRESET="ultrafast", TOWER_LEASE_S=str(lease_s),
               TOWER_BACKEND="builtin", TOWER_ADMIN_PASSWORD="chaos-admin-pass")
    if shape == "studio":
        import psycopg

        with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "tower_{tag}"')
        env.update(TOWER_DATABASE_URL=f"{POSTGRES}tower_{tag}", TOWER_REDIS_URL=REDIS, TOWER_HUEY_NAME=f"tower-{tag}",
                   TOWER_CHANNELS_PREFIX=f"tower-{tag}")
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from productions.models import Project

    target = f"{POSTGRES}tower_{tag}" if shape == "studio" else settings.DATABASES["default"]["NAME"]
    db = Database(shape, target)
    media = Path(settings.MEDIA_ROOT)
    plan = list(itertools.product(STAGES, SIGNALS, TARGETS))
    rng.shuffle(plan)
    if os.environ.get("CHAOS_PLAN"):  # e.g. stitching:SIGINT:whole, to repeat one kind of round
        plan = [tuple(os.environ["CHAOS_PLAN"].split(":"))]
    tower = Tower(shape, env, work)
    results = []
    try:
        tower.start()
        project = Project.objects.create(name="Chaos")
        for number in range(rounds):
            stage, signame, target = plan[number % len(plan)]
            result = run_round(number, tower, project, db, media, stage, signame, target)
            results.append(result)
            print(f"[{shape}] round {number}: {target} {signame} at {stage} "
                  f"({'hit' if result['hit'] else 'missed: ' + result['seen']}) -> "
                  f"{'correct' if result['correct'] else 'WRONG ' + json.dumps(result)}; after the stop "
                  f"{result['after_stop']} in {result['stop_s']} s; takeover {result['takeover_s']} s",
                  file=sys.stderr, flush=True)
    finally:
        tower.stop()
        from django.db import connections

        connections.close_all()
        if shape == "studio":
            import psycopg
            import redis

            with psycopg.connect(POSTGRES + "postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "tower_{tag}" WITH (FORCE)')
            client = redis.Redis.from_url(REDIS)
            keys = list(client.scan_iter(match=f"*{tag}*"))
            if keys:
                client.delete(*keys)
        if os.environ.get("CHAOS_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    return results


def summarise(results: list[dict], lease_s: int) -> None:
    takeovers = [r["takeover_s"] for r in results if r["takeover_s"] is not None]
    for shape in sorted({r["shape"] for r in results}):
        mine = [r for r in results if r["shape"] == shape]
        print(f"{shape}: correct {sum(r['correct'] for r in mine)}/{len(mine)}, "
              f"stage_hits {sum(r['hit'] for r in mine)}/{len(mine)}, "
              f"failed_after_stop {sum(r['after_stop'] == 'failed' for r in mine)}, "
              f"hung_stops {sum(r['hung'] for r in mine)}, "
              f"max_stop_s {max([r['stop_s'] for r in mine], default=0)}")
    print(f"lease_s: {lease_s}")
    print(f"stage_hits: {sum(r['hit'] for r in results)}/{len(results)}")
    print(f"episodes_correct: {sum(r['correct'] for r in results)}/{len(results)}")
    print(f"stuck: {sum(r['stuck'] for r in results)}")
    print(f"orphan_temp_files: {sum(r['temp_files'] for r in results)}")
    print(f"stale_running_attempts: {sum(r['running_attempts'] for r in results)}")
    print(f"max_takeover_s: {max(takeovers, default=0.0):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12, help="rounds in all, split between the shapes")
    parser.add_argument("--shapes", default="embedded,studio")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--lease-s", type=int, default=20)
    parser.add_argument("--one-shape", help=argparse.SUPPRESS)  # internal: run one shape, print JSON
    args = parser.parse_args()
    if args.one_shape:
        print(json.dumps(run_shape(args.one_shape, args.rounds, args.seed, args.lease_s)))
        return
    shapes = [s for s in args.shapes.split(",") if s]
    results: list[dict] = []
    for i, shape in enumerate(shapes):  # one process per shape: Django's settings differ between them
        rounds = args.rounds // len(shapes) + (1 if i < args.rounds % len(shapes) else 0)
        if not rounds:
            continue
        out = subprocess.run([sys.executable, __file__, "--one-shape", shape, "--rounds", str(rounds),
                              "--seed", str(args.seed + i), "--lease-s", str(args.lease_s)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if out.returncode:
            sys.exit(f"the {shape} shape's run failed (exit {out.returncode})")
        results += json.loads(out.stdout.strip().splitlines()[-1])
    summarise(results, args.lease_s)


if __name__ == "__main__":
    main()
