"""The public quote form: a real submission, and bots refused without storing anything."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftercare.saas import spam
from aftercare.saas.models import Migration, State

pytestmark = pytest.mark.django_db
URL = "/quote/"


def _aged_token(seconds: int = 10) -> str:
    return signing.dumps(
        {"n": f"n{time.time_ns()}", "t": int(time.time()) - seconds}, salt=spam.SALT
    )


def _data(**overrides) -> dict:
    return {
        "company": "Gamma Retail SA",
        "contact_name": "Jean Dupont",
        "email": "jean@gamma.example",
        "phone": "+33 1 00 00 00 00",
        "country": "fr",
        "product": "Aftercare ERP 10.4",
        "users": "40",
        "desired_date": (timezone.localdate() + timedelta(days=60)).isoformat(),
        "message": "Nous voulons passer au SaaS.",
        "website": "",
        "token": _aged_token(),
        **overrides,
    }


def test_the_url_is_the_public_quote_page():
    assert reverse("quote:form") == URL
    response = Client().get(URL)
    assert response.status_code == 200
    assert b'name="token"' in response.content
    assert b'name="website"' in response.content


def test_a_person_submits_a_quote_request_and_a_lead_is_stored_in_their_language():
    response = Client().post(URL, _data(), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 302
    assert response["Location"] == reverse("quote:thanks")
    lead = Migration.objects.get()
    assert (lead.company, lead.email, lead.users, lead.country) == (
        "Gamma Retail SA",
        "jean@gamma.example",
        40,
        "FR",
    )
    assert lead.state == State.LEAD
    assert lead.language == "fr"
    assert lead.organisation is None
    assert lead.events.get().action == "saas.lead.created"


def test_a_lead_from_a_known_mail_domain_is_linked_to_its_organisation(org):
    org.mail_domains = "alpha.example, alpha-foods.example"
    org.save()
    Client().post(URL, _data(email="Ana@Alpha-Foods.example"))
    lead = Migration.objects.get()
    assert lead.organisation == org
    assert lead.email == "ana@alpha-foods.example"


def test_a_filled_honeypot_gets_the_neutral_answer_and_nothing_is_stored():
    response = Client().post(URL, _data(website="http://spam.example"))
    assert response.status_code == 302 and response["Location"] == reverse("quote:thanks")
    assert not Migration.objects.exists()


def test_a_submission_faster_than_a_person_types_is_dropped(settings):
    settings.AFTERCARE_QUOTE_MIN_SECONDS = 5
    response = Client().post(URL, _data(token=spam.issue_token()))
    assert response["Location"] == reverse("quote:thanks")
    assert not Migration.objects.exists()


def test_a_forged_or_missing_token_is_dropped():
    forged = _aged_token()[:-4] + "abcd"
    for token in (forged, "", "not-a-token"):
        response = Client().post(URL, _data(token=token))
        assert response["Location"] == reverse("quote:thanks")
    assert not Migration.objects.exists()


def test_a_replayed_token_is_used_only_once():
    token = _aged_token()
    Client().post(URL, _data(token=token))
    Client().post(URL, _data(token=token, company="Replay Inc"))
    assert list(Migration.objects.values_list("company", flat=True)) == ["Gamma Retail SA"]


def test_a_token_older_than_a_day_asks_the_person_to_send_again_keeping_their_data():
    token = _aged_token()
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1), tick=False):
        response = Client().post(URL, _data(token=token))
    assert response.status_code == 400
    assert "Gamma Retail SA" in response.content.decode()
    assert response.context["form"]["token"].value() != token
    assert not Migration.objects.exists()


def test_one_address_is_rate_limited(settings):
    settings.AFTERCARE_QUOTE_RATE_LIMIT = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(2):
        assert client.post(URL, _data(company=f"Co {n}")).status_code == 302
    response = client.post(URL, _data(company="Co 3"))
    assert response.status_code == 429
    assert Migration.objects.count() == 2
    # Another address is not affected.
    assert Client(REMOTE_ADDR="203.0.113.10").post(URL, _data()).status_code == 302


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("company", "x" * 201),
        ("message", "y" * 4001),
        ("email", "not-an-address"),
        ("users", "0"),
        ("users", "1000000"),
        ("country", "France"),
        ("company", ""),
        ("desired_date", "2000-01-01"),
    ],
)
def test_bad_input_is_shown_again_with_an_error_and_a_fresh_token(field, value):
    response = Client().post(URL, _data(**{field: value}))
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors
    assert form["contact_name"].value() == "Jean Dupont"
    assert not Migration.objects.exists()
    # The fresh token works for the corrected submission (after the minimum time).
    assert spam.check_token(form["token"].value()) in ("", "too_fast")
