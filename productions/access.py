"""Who may see and change what: the one place that decides, used by the pages, the API and the sockets.

The rules:
* A member of a project sees it with their role: producers change it (new episodes, render, cancel, approve,
  reject); viewers look.
* Staff who are not members see every project (they watch the monitor and help producers), but do not change
  projects they are not members of: add them as producers for that.
* Superusers see and change everything.
* An inactive user sees nothing.
* Creating a project: staff and superusers; any signed-in user too when TOWER_ANYONE_CAN_CREATE_PROJECTS is on.
  The creator becomes the new project's producer.

Someone who may not see a project gets 404 (its existence is not revealed); someone who may see it but not
change it gets 403, with the same words in the pages and the API.

`episode_access` / `project_access` read the object, the caller's membership and the caller's current flags
(active, staff, superuser) in one query: fresh from the database, so a socket that re-checks on every message
sees a removal or a deactivation at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.signals import post_delete, post_save

from productions.models import Episode, Membership, Project

PRODUCER, VIEWER = Membership.PRODUCER, Membership.VIEWER


@dataclass(frozen=True)
class Access:
    """The caller's access to one project. `role` is what they may do there (producer / viewer / None);
    `member` says whether that comes from a membership (False for staff and superusers who are not members)."""

    role: str | None = None
    member: bool = False
    signed_in: bool = True  # False: nobody is signed in (or the account was deactivated)

    @property
    def can_view(self) -> bool:
        return self.role is not None

    @property
    def can_produce(self) -> bool:
        return self.role == PRODUCER

    def refusal(self) -> str:
        """Why this caller may not change the project, in a sentence."""
        if self.member:
            return "Viewers cannot change this project: ask a producer of it for the producer role."
        return "Staff who are not members of this project can look but not change it: ask a producer to add you."


NO_ACCESS = Access(role=None, signed_in=False)


def decide(*, active: bool, staff: bool, superuser: bool, membership_role: str | None) -> Access:
    """The rules above, on values already read."""
    if not active:
        return NO_ACCESS
    if superuser:
        return Access(PRODUCER, member=membership_role is not None)
    if membership_role is not None:
        return Access(membership_role, member=True)
    if staff:
        return Access(VIEWER)
    return Access(None)


def _with_access(queryset, user, project_ref: str):
    """Annotate each row with the caller's membership role and current account flags (subqueries: one query)."""
    users = get_user_model().objects.filter(pk=user.pk)
    return queryset.annotate(
        access_role=Subquery(Membership.objects.filter(project=OuterRef(project_ref), user=user.pk)
                             .values("role")[:1]),
        access_active=Subquery(users.values("is_active")[:1]),
        access_staff=Subquery(users.values("is_staff")[:1]),
        access_superuser=Subquery(users.values("is_superuser")[:1]),
    )


def _access_of(row) -> Access:
    return decide(active=bool(row.access_active), staff=bool(row.access_staff),
                  superuser=bool(row.access_superuser), membership_role=row.access_role)


def project_access(user, project_id: int) -> tuple[Project | None, Access]:
    """The project (None if it does not exist or nobody is signed in) and the caller's access to it."""
    if user is None or not user.is_authenticated:
        return None, NO_ACCESS
    project = _with_access(Project.objects.all(), user, "pk").filter(pk=project_id).first()
    return (project, _access_of(project)) if project else (None, Access(None))


def episode_access(user, episode_id: int) -> tuple[Episode | None, Access]:
    """The episode (with its project) and the caller's access to its project."""
    if user is None or not user.is_authenticated:
        return None, NO_ACCESS
    episode = _with_access(Episode.objects.select_related("project"), user, "project").filter(pk=episode_id).first()
    return (episode, _access_of(episode)) if episode else (None, Access(None))


def monitor_access(user) -> bool:
    """The monitor (every worker, GPU and running segment) is for staff; read fresh from the database."""
    if user is None or not user.is_authenticated:
        return False
    return get_user_model().objects.filter(Q(is_staff=True) | Q(is_superuser=True), pk=user.pk,
                                           is_active=True).exists()


def visible_projects(user):
    """Every project the caller may see (the list pages)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_staff or user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(membership__user=user).distinct()


def projects_with_access(user) -> list[tuple[Project, Access]]:
    """Every project the caller may see, each with the caller's access, in one query."""
    if not user.is_authenticated:
        return []
    rows = _with_access(visible_projects(user), user, "pk").annotate(episode_count=Count("episodes", distinct=True))
    return [(p, _access_of(p)) for p in rows]


CREATE_REFUSAL = ("Only staff can create projects here (an administrator can let everyone: "
                  "TOWER_ANYONE_CAN_CREATE_PROJECTS).")


def can_create_projects(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or user.is_superuser or settings.TOWER_ANYONE_CAN_CREATE_PROJECTS


class Refused(Exception):
    """`status` 404 (not yours to see: not revealed) or 403 (yours to see, not to change), with words."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def require_episode(user, episode_id: int, *, produce: bool = False) -> tuple[Episode, Access]:
    episode, access = episode_access(user, episode_id)
    if episode is None or not access.can_view:
        raise Refused(404, f"Episode {episode_id} does not exist.")
    if produce and not access.can_produce:
        raise Refused(403, access.refusal())
    return episode, access


def require_project(user, project_id: int, *, produce: bool = False) -> tuple[Project, Access]:
    project, access = project_access(user, project_id)
    if project is None or not access.can_view:
        raise Refused(404, f"Project {project_id} does not exist.")
    if produce and not access.can_produce:
        raise Refused(403, access.refusal())
    return project, access


# --- telling open sockets ---------------------------------------------------------------------------------
def _tell_sockets(user_id: int, **kwargs) -> None:
    from productions.events import publish_access_change

    # After the commit: a socket that re-checks must see the change.
    transaction.on_commit(lambda: publish_access_change(user_id, **kwargs))


def _membership_changed(sender, instance: Membership, **kwargs) -> None:
    _tell_sockets(instance.user_id)


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every sign-in saves last_login: nothing about access changed
    _tell_sockets(instance.pk)


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None and user.pk is not None:
        session = getattr(request, "session", None)
        _tell_sockets(user.pk, session_key=getattr(session, "session_key", None) or "", logout=True)


def connect_signals() -> None:
    """Removal from a project, a change of role, a deactivated or demoted account, a logout: that user's open
    sockets re-check their access at once (productions.consumers). Called from the app's ready()."""
    user_model = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(_membership_changed, sender=Membership, dispatch_uid="tower-access-membership")
        signal.connect(_user_changed, sender=user_model, dispatch_uid="tower-access-user")
    user_logged_out.connect(_logged_out, dispatch_uid="tower-access-logout")
