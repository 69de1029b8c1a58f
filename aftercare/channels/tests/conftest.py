from __future__ import annotations

import pytest

from aftercare.channels.tests.fakebot import TOKEN, FakeBotApi


@pytest.fixture
def bot(settings):
    """The fake Bot API, with Telegram switched on and pointed at it."""
    api = FakeBotApi().start()
    settings.AFTERCARE_TELEGRAM_TOKEN = TOKEN
    settings.AFTERCARE_TELEGRAM_API_URL = api.url
    settings.AFTERCARE_TELEGRAM_WEBHOOK_SECRET = "walk-secret_1"
    try:
        yield api
    finally:
        api.stop()
