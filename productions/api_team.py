"""REST routes (django-ninja router, mounted on productions.api.api): a project's team and webhook, the caller's
notifications.

The rules are the team page's (productions.team, productions.notifications): anyone who may see the project
lists its members (emails only for producers); producers add, create, change and remove them and set the
webhook. Errors: 404 (not yours to see, or no such member), 403 (viewers), 409 (already a member, the last
producer), 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from productions.access import project_access
from productions.api import BAD_JSON, CONFLICT, INVALID, NOT_FOUND, PRODUCER, ErrorOut, form_errors, project_for
from productions.models import Membership, Notification, ProjectWebhook, WebhookDelivery
from productions.notifications import WebhookForm, set_webhook, unread_count
from productions.team import MAX_ID, TeamError, add_member, create_account, members, remove_member, set_role

router = Router()


class MemberOut(Schema):
    user_id: int
    username: str
    email: str | None = Field(None, description="shown to the project's producers only")
    role: str


class AddMemberIn(Schema):
    user: str = Field(..., description="an existing account's username or email")
    role: str = Membership.VIEWER


class AccountIn(Schema):
    username: str
    email: str
    password: str = Field("", description="empty: a link to choose one is emailed to the new member")
    role: str = Membership.VIEWER


class AccountOut(MemberOut):
    password_link_emailed: bool


class RoleIn(Schema):
    role: str


class WebhookIn(Schema):
    url: str = Field("", description="http(s) address; empty removes the webhook")
    secret: str = Field("", description="at least 16 characters; empty keeps the current one (or makes one)")


class DeliveryOut(Schema):
    id: int
    kind: str
    state: str
    tries: int
    response_status: int | None
    error: str
    created_at: datetime


class WebhookOut(Schema):
    url: str | None
    secret: str | None = Field(None, description="only when made by this request: copy it, it is not shown again")
    deliveries: list[DeliveryOut]


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    link: str
    episode_id: int | None
    read: bool
    created_at: datetime


def member_out(membership: Membership, *, with_email: bool) -> dict:
    return {"user_id": membership.user_id, "username": membership.user.get_username(),
            "email": membership.user.email if with_email else None, "role": membership.role}


def team_error(exc: TeamError) -> HttpError:
    error = HttpError(exc.status, str(exc))
    if exc.field:
        error.errors = {exc.field: [str(exc).removeprefix(f"{exc.field}: ")]}
    return error


@router.get("/projects/{project_id}/members", response={200: list[MemberOut], **NOT_FOUND})
def list_members(request: HttpRequest, project_id: int):
    project = project_for(request, project_id)
    can_produce = project_access(request.user, project.pk)[1].can_produce
    return [member_out(m, with_email=can_produce) for m in members(project)]


@router.post("/projects/{project_id}/members",
             response={201: MemberOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def add(request: HttpRequest, project_id: int, payload: AddMemberIn):
    """Add an existing account (by username or email) with a role."""
    project = project_for(request, project_id, produce=True)
    try:
        membership = add_member(project, payload.user, payload.role)
    except TeamError as exc:
        raise team_error(exc) from None
    return Status(201, member_out(membership, with_email=True))


@router.post("/projects/{project_id}/accounts",
             response={201: AccountOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def create(request: HttpRequest, project_id: int, payload: AccountIn):
    """Create an account and add it. Without a password, the new member is emailed a link to choose one."""
    project = project_for(request, project_id, produce=True)
    try:
        membership, emailed = create_account(project, payload.dict(), base_url=request.build_absolute_uri("/"),
                                             invited_by=request.user)
    except TeamError as exc:
        raise team_error(exc) from None
    return Status(201, {**member_out(membership, with_email=True), "password_link_emailed": emailed})


@router.patch("/projects/{project_id}/members/{user_id}",
              response={200: MemberOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def change_role(request: HttpRequest, project_id: int, user_id: int, payload: RoleIn):
    project = project_for(request, project_id, produce=True)
    try:
        membership = set_role(project, user_id, payload.role)
    except TeamError as exc:
        raise team_error(exc) from None
    return member_out(membership, with_email=True)


@router.delete("/projects/{project_id}/members/{user_id}", response={204: None, **PRODUCER, **CONFLICT})
def remove(request: HttpRequest, project_id: int, user_id: int):
    """Remove a member: their open pages and sockets lose the project at once."""
    project = project_for(request, project_id, produce=True)
    try:
        remove_member(project, user_id)
    except TeamError as exc:
        raise team_error(exc) from None
    return Status(204, None)


def webhook_out(project, made: str = "") -> dict:
    hook = ProjectWebhook.objects.filter(project=project).first()
    return {"url": hook.url if hook else None, "secret": made or None,
            "deliveries": list(WebhookDelivery.objects.filter(project=project)[:20])}


@router.get("/projects/{project_id}/webhook", response={200: WebhookOut, **PRODUCER})
def get_webhook(request: HttpRequest, project_id: int):
    """The webhook's address and its recent deliveries (producers)."""
    return webhook_out(project_for(request, project_id, produce=True))


@router.put("/projects/{project_id}/webhook", response={200: WebhookOut, **BAD_JSON, **PRODUCER, **INVALID})
def put_webhook(request: HttpRequest, project_id: int, payload: WebhookIn):
    """Set or remove the webhook. Bodies are signed: `X-Tower-Signature: sha256=<hex>`, the HMAC-SHA256 with the
    secret of `"<X-Tower-Timestamp>." + body` (README: Notifications)."""
    project = project_for(request, project_id, produce=True)
    form = WebhookForm(data=payload.dict())
    if not form.is_valid():
        raise form_errors(form)
    _, made = set_webhook(project, form.cleaned_data["url"], form.cleaned_data["secret"])
    return webhook_out(project, made)


@router.get("/notifications", response={200: list[NotificationOut]})
def list_notifications(request: HttpRequest, unread: bool = False):
    """The caller's notifications, newest first (at most 100)."""
    rows = Notification.objects.filter(user=request.user)
    if unread:
        rows = rows.filter(read=False)
    return list(rows[:100])


@router.get("/notifications/unread", response={200: dict})
def unread(request: HttpRequest):
    """How many of the caller's notifications are unread (the bell): {"unread": 3}."""
    return {"unread": unread_count(request.user)}


@router.post("/notifications/read", response={200: dict})
def read_all(request: HttpRequest):
    """Mark every notification of the caller read."""
    return {"marked": Notification.objects.filter(user=request.user, read=False).update(read=True)}


@router.post("/notifications/{notification_id}/read", response={200: NotificationOut, 404: ErrorOut})
def read_one(request: HttpRequest, notification_id: int):
    updated = notification_id <= MAX_ID and Notification.objects.filter(pk=notification_id, user=request.user) \
        .update(read=True)
    if not updated:
        raise HttpError(404, f"Notification {notification_id} does not exist.")
    return Notification.objects.get(pk=notification_id)
