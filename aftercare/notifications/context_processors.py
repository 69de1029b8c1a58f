from django.http import HttpRequest


def bell(request: HttpRequest) -> dict:
    """The unread count for the bell in the top bar (one indexed count per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from aftercare.notifications import services

    return {"bell_unread": services.unread_count(user), "bell_cap": services.BELL_CAP}
