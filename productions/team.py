"""A project's team: invite an existing user, create an account, set a member's role, remove a member.

The one place for these rules, used by the team page (productions.team_views) and the API
(productions.api_team):
* only the project's producers change its team (productions.access decides who is one);
* a project always keeps at least one producer: demoting or removing the last one is refused;
* a new account gets the password the producer typed (checked by Django's password validators) or, with none,
  a link to choose one, sent through Django's email backend (the console backend prints it).

A removal or a change of role saves or deletes the Membership row, so productions.access's signals make the
member's open sockets look again at once; pages read access fresh on every request.
Errors are TeamError: a status (404 no such member, 409 last producer / already a member, 422 bad input) and
the field it is about, so pages show it beside the field and the API names it.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from productions.models import Membership, Project
from productions.validation import text_problem

ROLES = [value for value, _ in Membership.ROLE_CHOICES]
LAST_PRODUCER = "A project needs at least one producer: make another member a producer first."
MAX_ID = 2**63 - 1  # the largest primary key a database stores: a larger one in an address is simply not found


class TeamError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# --- forms (the page's and the API's input rules) --------------------------------------------------------
class AddMemberForm(forms.Form):
    user = forms.CharField(label="Username or email", max_length=254)
    role = forms.ChoiceField(choices=Membership.ROLE_CHOICES, initial=Membership.VIEWER)

    def clean_user(self) -> str:
        value = self.cleaned_data["user"].strip()
        problem = text_problem(value, multiline=False, max_length=254)
        if problem:
            raise ValidationError(problem)
        return value


class CreateAccountForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[get_user_model().username_validator],
                               help_text="Letters, digits and @ . + - _ only.")
    email = forms.EmailField(max_length=254)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False), strip=False,
                               help_text="Optional: leave it empty to email the new member a link to choose one.")
    role = forms.ChoiceField(choices=Membership.ROLE_CHOICES, initial=Membership.VIEWER)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError("This username is taken: invite that user instead, or choose another.")
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this email exists: invite it instead.")
        return email

    def clean(self):
        data = super().clean()
        password = data.get("password")
        problem = text_problem(password or "", multiline=False, max_length=128)
        if problem:
            self.add_error("password", problem)
        elif password and "username" in data:
            user = get_user_model()(username=data["username"], email=data.get("email", ""))
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.ROLE_CHOICES)


def form_problem(form: forms.Form) -> TeamError:
    """The form's first error as a TeamError naming its field."""
    field, messages = next(iter(form.errors.items()))
    return TeamError(422, f"{field}: {messages[0]}", None if field == "__all__" else field)


# --- operations ----------------------------------------------------------------------------------------
def members(project: Project) -> list[Membership]:
    return list(Membership.objects.filter(project=project).select_related("user")
                .order_by("user__username"))


def find_user(identifier: str):
    """An active user by username (exact, then any case) or email (any case); None if no one or ambiguous."""
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(username=identifier).first()
    if user is None and identifier:
        matches = list(users.filter(username__iexact=identifier)[:2])
        if not matches:
            matches = list(users.filter(email__iexact=identifier)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


def add_member(project: Project, identifier: str, role: str) -> Membership:
    form = AddMemberForm(data={"user": identifier, "role": role})
    if not form.is_valid():
        raise form_problem(form)
    user = find_user(form.cleaned_data["user"])
    if user is None:
        raise TeamError(422, f"No active account has the username or email {form.cleaned_data['user']!r}: "
                             "create an account for them instead.", "user")
    try:
        with transaction.atomic():
            return Membership.objects.create(project=project, user=user, role=form.cleaned_data["role"])
    except IntegrityError:
        raise TeamError(409, f"{user.get_username()} is already a member of this project.", "user") from None


def set_password_link(user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url.rstrip("/") + reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def create_account(project: Project, data: dict, *, base_url: str, invited_by) -> tuple[Membership, bool]:
    """Create the account and make it a member. Returns (membership, whether a set-password link was emailed)."""
    form = CreateAccountForm(data=data)
    if not form.is_valid():
        raise form_problem(form)
    cleaned = form.cleaned_data
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(cleaned["username"], cleaned["email"],
                                                        cleaned["password"] or None)
            membership = Membership.objects.create(project=project, user=user, role=cleaned["role"])
    except IntegrityError:
        raise TeamError(409, "This username was taken at the same moment: choose another.", "username") from None
    emailed = not cleaned["password"]
    if emailed:
        link = set_password_link(user, base_url)
        send_mail(
            f"Tower: you were added to {project.name}",
            f"{invited_by.get_username()} made you an account on Tower and added you to the project "
            f"{project.name!r} as {membership.get_role_display().lower()}.\n\n"
            f"Your username is {user.get_username()}. Choose your password here:\n{link}\n",
            None, [user.email], fail_silently=True)
    return membership, emailed


def _membership(project: Project, user_id: int) -> Membership:
    membership = None
    if 0 < user_id <= MAX_ID:
        membership = (Membership.objects.select_for_update().select_related("user")
                      .filter(project=project, user_id=user_id).first())
    if membership is None:
        raise TeamError(404, f"User {user_id} is not a member of this project.")
    return membership


def _other_producers(project: Project, membership: Membership) -> int:
    # Locked with the member's row: two producers demoting each other at once cannot both succeed.
    return len(Membership.objects.select_for_update().filter(project=project, role=Membership.PRODUCER)
               .exclude(pk=membership.pk))


def set_role(project: Project, user_id: int, role: str) -> Membership:
    form = RoleForm(data={"role": role})
    if not form.is_valid():
        raise form_problem(form)
    role = form.cleaned_data["role"]
    with transaction.atomic():
        membership = _membership(project, user_id)
        if membership.role == Membership.PRODUCER and role != Membership.PRODUCER \
                and not _other_producers(project, membership):
            raise TeamError(409, LAST_PRODUCER, "role")
        membership.role = role
        membership.save(update_fields=["role"])  # post_save: the member's open sockets look again
    return membership


def remove_member(project: Project, user_id: int) -> Membership:
    with transaction.atomic():
        membership = _membership(project, user_id)
        if membership.role == Membership.PRODUCER and not _other_producers(project, membership):
            raise TeamError(409, LAST_PRODUCER)
        membership.delete()  # post_delete: the member's open sockets close at once
    return membership
