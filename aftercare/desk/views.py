from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest

from aftercare.desk.querysets import get_attachment_for_user
from aftercare.lib.files import stored_file_response


@login_required
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    """Every file goes through here: 404 unless the user may see its request."""
    att = get_attachment_for_user(request.permset, pk)
    return stored_file_response(att.file, name=att.name, content_type=att.content_type)
