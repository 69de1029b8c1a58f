from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def bell(request: HttpRequest) -> dict:
    """The unread count, counted only when a page shows the bell."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from aftercare.notifications import services

    return {
        "bell_unread": SimpleLazyObject(lambda: services.unread_count(user)),
        "bell_cap": services.BELL_CAP,
    }
