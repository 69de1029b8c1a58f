"""Stored files handed to a browser: always as a download, never rendered by it."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def stored_file_response(stored: FieldFile, *, name: str, content_type: str) -> FileResponse:
    """The file as an attachment with headers that stop the browser sniffing, running or
    caching it; 404 when storage no longer has it. Callers check who may see it first."""
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("The file is missing from storage") from None
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
