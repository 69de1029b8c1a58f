from functools import cache

from django.http import HttpRequest


def bell(request: HttpRequest) -> dict:
    """The unread count for the bell in the top bar, counted once and only when a page
    shows it (the template engine calls the function; fragments never do)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from aftercare.notifications import services

    @cache
    def bell_unread() -> int:
        return services.unread_count(user)

    return {"bell_unread": bell_unread, "bell_cap": services.BELL_CAP}
