"""The ceiling for this stack: bare Django + django-ninja + SQLite, one create endpoint.

Same engine settings as Aftercare's embedded default (WAL, synchronous=NORMAL,
BEGIN IMMEDIATE, 20 s busy timeout), no middleware but the common one, no templates,
no sessions. ``bench/api.py --target bare`` starts it; see ``bench/bare/README.md``.
"""

import os
from pathlib import Path

DATA = Path(os.environ.get("BARE_DATA_DIR", "bare-data"))
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "bareproj"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bareproj.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA / "bare.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
    }
}
