"""`{% unread_notifications as n %}`: how many unread notifications the signed-in user has (the bell)."""

from django import template

from productions.notifications import unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    request = context.get("request")
    return unread_count(getattr(request, "user", None))
