"""The project's Team page: its members (anyone who may see the project), and for its producers the forms to
invite, create accounts, change roles, remove members and set the project's webhook (productions.team,
productions.notifications). A refused change re-shows the page with the error beside its field."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from productions.access import Access
from productions.models import Project, ProjectWebhook, WebhookDelivery
from productions.notifications import WebhookForm, set_webhook
from productions.team import (
    AddMemberForm,
    CreateAccountForm,
    RoleForm,
    TeamError,
    add_member,
    create_account,
    members,
    remove_member,
    set_role,
)
from productions.views import project_and_access

RECENT_DELIVERIES = 10


def team_page(request: HttpRequest, project: Project, access: Access, *, status: int = 200,
              error: str = "", **forms) -> HttpResponse:
    hook = ProjectWebhook.objects.filter(project=project).first() if access.can_produce else None
    context = {
        "project": project,
        "can_produce": access.can_produce,
        "members": members(project),
        "roles": RoleForm.base_fields["role"].choices,
        "error": error,
        "add_form": forms.get("add_form") or AddMemberForm(),
        "create_form": forms.get("create_form") or CreateAccountForm(),
        "webhook_form": forms.get("webhook_form") or WebhookForm(initial={"url": hook.url if hook else ""}),
        "webhook": hook,
        "deliveries": (WebhookDelivery.objects.filter(project=project)[:RECENT_DELIVERIES]
                       if access.can_produce else []),
    }
    return render(request, "productions/project_team.html", context, status=status)


def project_team(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = project_and_access(request, pk)
    return team_page(request, project, access)


def refused(request, project, access, exc: TeamError, form=None, form_name: str = "") -> HttpResponse:
    """Re-show the page: the error beside its field when the form has it, else above the list."""
    if form is not None and exc.field and exc.field in form.fields:
        form.add_error(exc.field, str(exc).removeprefix(f"{exc.field}: "))
        return team_page(request, project, access, status=exc.status, **{form_name: form})
    return team_page(request, project, access, status=exc.status, error=str(exc))


@require_POST
def team_add(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = project_and_access(request, pk, produce=True)
    form = AddMemberForm(request.POST)
    if not form.is_valid():
        return team_page(request, project, access, status=422, add_form=form)
    try:
        membership = add_member(project, form.cleaned_data["user"], form.cleaned_data["role"])
    except TeamError as exc:
        return refused(request, project, access, exc, form, "add_form")
    messages.success(request, f"{membership.user.get_username()} added as {membership.get_role_display().lower()}.")
    return redirect("project-team", project.pk)


@require_POST
def team_create(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = project_and_access(request, pk, produce=True)
    form = CreateAccountForm(request.POST)
    if not form.is_valid():
        return team_page(request, project, access, status=422, create_form=form)
    try:
        membership, emailed = create_account(project, request.POST.dict(),
                                             base_url=request.build_absolute_uri("/"), invited_by=request.user)
    except TeamError as exc:
        return refused(request, project, access, exc, form, "create_form")
    name = membership.user.get_username()
    messages.success(request, f"Account {name} created and added as {membership.get_role_display().lower()}"
                              + (f"; a link to choose a password was emailed to {membership.user.email}."
                                 if emailed else "."))
    return redirect("project-team", project.pk)


@require_POST
def team_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, access = project_and_access(request, pk, produce=True)
    try:
        membership = set_role(project, user_id, request.POST.get("role", ""))
    except TeamError as exc:
        return refused(request, project, access, exc)
    messages.success(request, f"{membership.user.get_username()} is now {membership.get_role_display().lower()}.")
    return redirect("project-team", project.pk)


@require_POST
def team_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, access = project_and_access(request, pk, produce=True)
    try:
        membership = remove_member(project, user_id)
    except TeamError as exc:
        return refused(request, project, access, exc)
    messages.success(request, f"{membership.user.get_username()} removed from {project.name}.")
    if membership.user_id == request.user.pk:
        return redirect("project-list")  # one removed themselves: the project may no longer be theirs to see
    return redirect("project-team", project.pk)


@require_POST
def team_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = project_and_access(request, pk, produce=True)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return team_page(request, project, access, status=422, webhook_form=form)
    hook, made = set_webhook(project, form.cleaned_data["url"], form.cleaned_data["secret"])
    if hook is None:
        messages.success(request, "Webhook removed.")
    elif made:
        messages.success(request, f"Webhook set. Its secret (copy it now, it is not shown again): {made}")
    else:
        messages.success(request, "Webhook set.")
    return redirect("project-team", project.pk)
