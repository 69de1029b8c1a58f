from django.http import HttpRequest


def permset(request: HttpRequest) -> dict:
    return {"permset": getattr(request, "permset", None)}
