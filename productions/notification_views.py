"""The signed-in user's inbox (productions.notifications): list, mark read, mark all read, email on or off."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from productions.models import Notification, NotificationSettings
from productions.notifications import email_enabled
from productions.team import MAX_ID

INBOX_SIZE = 100


def inbox(request: HttpRequest) -> HttpResponse:
    rows = Notification.objects.filter(user=request.user).select_related("episode")[:INBOX_SIZE]
    return render(request, "productions/notifications.html", {
        "notifications": rows, "email_on": email_enabled(request.user)})


@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read; with `open`, go on to what it is about."""
    notification = Notification.objects.filter(pk=pk, user=request.user).first() if pk <= MAX_ID else None
    if notification is None:
        raise Http404(f"Notification {pk} does not exist.")
    Notification.objects.filter(pk=pk).update(read=True)
    link = notification.link
    if request.POST.get("open") and link and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return redirect(link)
    return redirect("notifications")


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = Notification.objects.filter(user=request.user, read=False).update(read=True)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notifications")


@require_POST
def email_setting(request: HttpRequest) -> HttpResponse:
    on = request.POST.get("email") == "on"
    NotificationSettings.objects.update_or_create(user=request.user, defaults={"email": on})
    messages.success(request, "Notifications will be emailed to you." if on else "No more notification emails.")
    return redirect("notifications")
