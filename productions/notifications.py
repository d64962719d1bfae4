"""Telling a project's members what happened to an episode: rendered and ready for review, held by automatic QA
for a decision, failed, or delivered.

`notify(episode, kind)` is the one entry point (render.EpisodeRender.finish calls `render_ended`, the review's
last approval calls it for a delivery). For each active member of the project it
* adds a Notification to their in-app inbox (the bell in the header; /notifications/);
* emails them through Django's email backend, unless they turned email off on the inbox page (a Huey task:
  the render never waits for a mail server);
* POSTs the event to the project's webhook, if its producers set one (a Huey task, retried with backoff).

Nothing here ever fails a render: every error is logged and recorded, never raised to the caller.

The webhook: `POST <url>` with `Content-Type: application/json` and the body
    {"event": "episode.finished" | "episode.needs_review" | "episode.failed" | "episode.delivered",
     "kind": "finished", "project": {"id", "name"}, "episode": {"id", "title", "status", "url"},
     "message": "...", "created_at": "2026-11-28T10:00:00+00:00", "delivery": 17}
and two headers: `X-Tower-Timestamp: <unix seconds>` and
`X-Tower-Signature: sha256=<hex HMAC-SHA256, keyed with the project's secret, of "<timestamp>." + body>`.
A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares in constant time, and
refuses timestamps older than a few minutes (replays). A 2xx answer is a delivery; anything else, or no answer
within WEBHOOK_TIMEOUT_S, is retried after 10 s, 30 s and 90 s; each try's outcome is shown to the producers on
the team page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from productions.models import (
    Episode,
    Membership,
    Notification,
    NotificationSettings,
    ProjectWebhook,
    WebhookDelivery,
)
from productions.validation import text_problem

log = logging.getLogger(__name__)

Kind = Notification.Kind
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_TRIES = 4  # the first and three retries
SIGNATURE_HEADER = "X-Tower-Signature"
TIMESTAMP_HEADER = "X-Tower-Timestamp"


def retry_delay_s(tries: int) -> float:
    """How long to wait after the `tries`-th failed try: 10 s, 30 s, 90 s."""
    return 10.0 * 3 ** (tries - 1)


def message_for(episode: Episode, kind: str) -> str:
    name = f"{episode.project.name} / {episode.title}"
    if kind == Kind.FINISHED:
        return f"{name} is rendered and ready for review."
    if kind == Kind.NEEDS_REVIEW:
        held = [s.index + 1 for s in episode.segments.order_by("index") if s.is_flagged()]
        which = ", ".join(str(n) for n in held) or "?"
        return (f"{name}: segment {which} failed automatic QA on every try and waits for your decision "
                "(regenerate it or approve it with a reason).")
    if kind == Kind.FAILED:
        return f"{name} failed: {episode.error or 'see the episode page'}"[:500]
    return f"{name} is delivered."


def recipients(episode: Episode) -> list:
    return list(get_user_model().objects.filter(
        is_active=True, pk__in=Membership.objects.filter(project=episode.project_id).values("user")))


def render_ended(episode: Episode) -> None:
    """The render of `episode` ended (render.EpisodeRender.finish): notify by its status; a cancel is the
    producer's own doing and tells nobody."""
    kind = {Episode.Status.REVIEW: Kind.FINISHED, Episode.Status.DELIVERED: Kind.DELIVERED,
            Episode.Status.FAILED: Kind.FAILED}.get(episode.status)
    try:
        if kind == Kind.FAILED and any(s.is_flagged() for s in episode.segments.all()):
            kind = Kind.NEEDS_REVIEW
    except Exception:  # the render's outcome stands whatever happens here
        log.exception("reading episode %s's segments to notify failed", episode.pk)
    if kind is not None:
        notify(episode, kind)


def notify(episode: Episode, kind: str, message: str | None = None) -> list[Notification]:
    """Inbox, email and webhook for every active member of the episode's project. Never raises."""
    try:
        episode = Episode.objects.select_related("project").get(pk=episode.pk)
        message = message or message_for(episode, kind)
        link = episode.get_absolute_url()
        with transaction.atomic():
            made = Notification.objects.bulk_create(
                [Notification(user=user, episode=episode, kind=kind, message=message, link=link)
                 for user in recipients(episode)])
            delivery = queue_webhook(episode, kind, message)
        ids = [n.pk for n in made]
        transaction.on_commit(lambda: enqueue(ids, delivery))
        return made
    except Exception:  # a notification must never break what it reports on
        log.exception("notifying %s of episode %s failed", kind, episode.pk)
        return []


def enqueue(notification_ids: list[int], delivery: WebhookDelivery | None) -> None:
    from productions.tasks import deliver_webhook, send_notification_emails

    if notification_ids:
        send_notification_emails(notification_ids)
    if delivery is not None:
        deliver_webhook(delivery.pk)


# --- email -----------------------------------------------------------------------------------------------
def email_enabled(user) -> bool:
    choice = NotificationSettings.objects.filter(user=user).values_list("email", flat=True).first()
    return True if choice is None else choice


def absolute(link: str) -> str:
    return settings.TOWER_PUBLIC_URL.rstrip("/") + link


def send_emails(notification_ids: list[int]) -> int:
    """Email each notification to its user (with an address, email on). Returns how many were sent."""
    rows = Notification.objects.filter(pk__in=notification_ids).select_related("user")
    messages = [
        EmailMessage(subject=f"Tower: {n.message}"[:200].splitlines()[0],
                     body=f"{n.message}\n\n{absolute(n.link)}\n\nTurn these emails off on "
                          f"{absolute('/notifications/')}\n",
                     to=[n.user.email])
        for n in rows if n.user.email and n.user.is_active and email_enabled(n.user)]
    if not messages:
        return 0
    return get_connection(fail_silently=True).send_messages(messages) or 0


# --- webhook ---------------------------------------------------------------------------------------------
def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def queue_webhook(episode: Episode, kind: str, message: str) -> WebhookDelivery | None:
    hook = ProjectWebhook.objects.filter(project=episode.project_id).first()
    if hook is None:
        return None
    delivery = WebhookDelivery.objects.create(project_id=episode.project_id, episode=episode, kind=kind,
                                              url=hook.url, body="")
    body = {
        "event": f"episode.{kind}", "kind": kind,
        "project": {"id": episode.project_id, "name": episode.project.name},
        "episode": {"id": episode.pk, "title": episode.title, "status": episode.status,
                    "url": absolute(episode.get_absolute_url())},
        "message": message, "created_at": timezone.now().isoformat(), "delivery": delivery.pk,
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(body=json.dumps(body, ensure_ascii=False))
    return delivery


def post(url: str, secret: str, body: bytes) -> int:
    """One POST; the HTTP status (raises on no answer, a timeout, a refused connection)."""
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Tower-Webhook/1",
        TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def attempt_delivery(delivery_id: int) -> float | None:
    """One try of a delivery (the Huey task deliver_webhook). Returns the delay before the next try, or None
    when done (delivered, out of tries, or the webhook was removed)."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, state=WebhookDelivery.State.PENDING).first()
    if delivery is None:
        return None
    hook = ProjectWebhook.objects.filter(project=delivery.project_id).first()
    if hook is None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED,
                                                              error="The webhook was removed.")
        return None
    status, error = None, ""
    try:
        status = post(delivery.url, hook.secret, delivery.body.encode())
        if not 200 <= status < 300:
            error = f"The server answered HTTP {status}."
    except Exception as exc:  # refused, unreachable, timed out, a bad address: recorded, retried
        error = f"No answer: {getattr(exc, 'reason', None) or exc}"[:500]
    tries = delivery.tries + 1
    done = not error
    state = WebhookDelivery.State.DELIVERED if done else (
        WebhookDelivery.State.FAILED if tries >= WEBHOOK_TRIES else WebhookDelivery.State.PENDING)
    if error and state == WebhookDelivery.State.PENDING:
        error = f"{error} Retrying in {retry_delay_s(tries):.0f} s."
    WebhookDelivery.objects.filter(pk=delivery.pk).update(tries=F("tries") + 1, state=state,
                                                          response_status=status, error=error[:500])
    if error:
        log.warning("webhook delivery %s to %s: %s", delivery.pk, delivery.url, error)
    return retry_delay_s(tries) if state == WebhookDelivery.State.PENDING else None


# --- the inbox -------------------------------------------------------------------------------------------
def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read=False).count()


# --- a project's webhook (set by its producers on the team page or through the API) -----------------------
class WebhookForm(forms.Form):
    url = forms.URLField(label="Webhook URL", max_length=500, required=False, assume_scheme="https",
                         help_text="POSTed a signed JSON body on each notification; empty: no webhook.")
    secret = forms.CharField(max_length=200, min_length=16, required=False, strip=True,
                             help_text="Signs each body (HMAC-SHA256); empty: keep the current one, or make one.")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Give an http:// or https:// address.")
        return url

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        problem = text_problem(secret, multiline=False, max_length=200)
        if problem:
            raise forms.ValidationError(problem)
        return secret


def set_webhook(project, url: str, secret: str) -> tuple[ProjectWebhook | None, str]:
    """Set (url given) or remove (empty url) the project's webhook. Returns (webhook, a secret made here for
    the producer to copy, shown once, or "")."""
    if not url:
        ProjectWebhook.objects.filter(project=project).delete()
        return None, ""
    hook = ProjectWebhook.objects.filter(project=project).first()
    made = ""
    if not secret:
        if hook is not None:
            secret = hook.secret
        else:
            secret = made = secrets.token_hex(32)
    hook, _ = ProjectWebhook.objects.update_or_create(project=project, defaults={"url": url, "secret": secret})
    return hook, made
