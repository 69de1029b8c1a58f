"""Checks on uploaded files before they are stored.

The name a user gives a file is never trusted: the extension must be on the allow-list,
the first bytes must not be an executable, and for formats with a signature the bytes must
match the extension (a ``.pdf`` that is really HTML is refused).
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

ALLOWED_EXTENSIONS = frozenset(
    """
    png jpg jpeg gif bmp webp tif tiff pdf txt log csv tsv xml json md rtf
    doc docx xls xlsx xlsm ppt pptx odt ods odp eml msg zip 7z rar gz tgz sql
    """.split()
)
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")
SIGNATURES = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "pdf": (b"%PDF-",),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "xlsm": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "odt": (b"PK\x03\x04",),
    "ods": (b"PK\x03\x04",),
    "7z": (b"7z\xbc\xaf\x27\x1c",),
    "gz": (b"\x1f\x8b",),
    "tgz": (b"\x1f\x8b",),
}


def safe_name(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name.strip().replace("\x00", "")
    return base[:200] or "file"


def content_type_for(name: str) -> str:
    guessed, _enc = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def validate_upload(upload: UploadedFile) -> None:
    name = safe_name(upload.name or "")
    limit = settings.AFTERCARE_MAX_ATTACHMENT_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s; the limit is %(limit)s.")
            % {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
        )
    if upload.size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    ext = PurePath(name).suffix.lower().lstrip(".")
    if ext not in ALLOWED_EXTENSIONS:
        raise ValidationError(
            _("Files of type “%(ext)s” are not accepted (%(name)s). Accepted: %(allowed)s.")
            % {"ext": ext or "?", "name": name, "allowed": ", ".join(sorted(ALLOWED_EXTENSIONS))}
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if any(head.startswith(magic) for magic in EXECUTABLE_MAGIC):
        raise ValidationError(
            _("“%(name)s” looks like a program; programs are not accepted.") % {"name": name}
        )
    expected = SIGNATURES.get(ext)
    if expected and not any(head.startswith(sig) for sig in expected):
        raise ValidationError(
            _("“%(name)s” is not a real %(ext)s file.") % {"name": name, "ext": ext.upper()}
        )


def validate_uploads(uploads: list[UploadedFile]) -> None:
    if len(uploads) > settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE:
        raise ValidationError(
            _("At most %(count)d files can be attached at once.")
            % {"count": settings.AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE}
        )
    errors = []
    for upload in uploads:
        try:
            validate_upload(upload)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
