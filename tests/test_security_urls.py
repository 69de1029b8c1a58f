"""Every URL of the project, tried by people who must not get through it.

The walk reads the URL configuration itself, so a new page is checked the day it is added:
its keyword arguments must be known to ``KWARG_VALUES`` (filled from organisation B's
data) or the walk fails and asks for them. Customers and coordinators of organisation A,
staff members of every role restricted to A, and anonymous visitors then GET and POST
each URL.

The REST API's routes (``api:v1:…``) are walked too, answering as an API does: JSON
401 instead of a redirect to sign in, and for B's data exactly the answer that data which
does not exist gets, so not even the status code confirms that B's request is there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from aftercare.accounts import emailchange
from aftercare.accounts.roles import Role
from aftercare.api import tokens as api_tokens
from aftercare.api.models import ApiToken
from aftercare.desk import approvals, services
from aftercare.desk.models import Attachment, Message, Status, Ticket
from aftercare.desk.signals import approval_requested
from aftercare.desk.tests.factories import PNG, ticket_for
from aftercare.lifecycle import services as lifecycle_services
from aftercare.lifecycle.models import Deployment, Environment, PlannedUpgrade, Rollout
from aftercare.lifecycle.tests.factories import landscape
from aftercare.mail.ingest import ingest
from aftercare.mail.models import InboundMessage, OutboundMail
from aftercare.mail.tests.factories import make_mail
from aftercare.notifications.models import Notification
from aftercare.saas.models import Migration as SaasMigration
from aftercare.saas.tests.factories import shallow as saas_shallow
from aftercare.tenancy.models import AgentRestriction, Membership
from aftercare.tenancy.tests.factories import staff

pytestmark = pytest.mark.django_db

BETA_SUBJECT = "Beta warehouse scanners offline"
BETA_FILE = "beta-manifest.png"


# -- the walk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None
    pattern: str
    kwargs: tuple[str, ...] = field(default=())

    @property
    def namespace(self) -> str:
        return (self.name or "").rpartition(":")[0]


def _is_static(pattern: URLPattern) -> bool:
    module = getattr(pattern.callback, "__module__", "") or ""
    return module.startswith(("django.views.static", "django.contrib.staticfiles"))


def walk(patterns=None, namespace: str = "", prefix: str = "", kwargs=()) -> Iterator[Route]:
    """Every URL pattern, depth first, with its full name and all its keyword arguments."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        names = tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # Django's own admin: checked on its own below.
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner, prefix + str(entry.pattern), kwargs + names)
        elif isinstance(entry, URLPattern) and not _is_static(entry):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield Route(name, prefix + str(entry.pattern), kwargs + names)


ROUTES = list(walk())


@dataclass
class Beta:
    """Organisation B's data that A's people must never reach."""

    org: object
    ticket: Ticket
    attachment: Attachment
    token: ApiToken | None = None
    inbound: InboundMessage | None = None
    outbound: OutboundMail | None = None
    approval_token: str = ""
    environment: object | None = None
    project: object | None = None
    # B's SaaS migration: (migration, offer, extra, offer-mail link token).
    saas: tuple | None = None
    notification: object | None = None

    @property
    def secrets(self) -> list[str]:
        found = [self.ticket.subject, self.ticket.number, self.org.name, BETA_FILE]
        if self.environment is not None:
            found.append(self.environment.url)
        if self.project is not None:
            found.append(self.project.name)
        return [*found, self.token.prefix] if self.token is not None else found


# How to fill each keyword argument with organisation B's data. A new URL with a new
# keyword argument makes ``test_it_knows_every_keyword_argument`` fail until it is added.
KWARG_VALUES: dict[str, Callable[[Beta], object]] = {
    "number": lambda b: b.ticket.number,
    "pk": lambda b: b.attachment.pk,
    "code": lambda b: b.org.code,
    "user_id": lambda b: b.ticket.reporter_id,
    "token_id": lambda b: b.token.pk,
    "inbound_id": lambda b: b.inbound.pk,
    "outbound_id": lambda b: b.outbound.pk,
    # A capability URL: B's real link opens B's approval to whoever holds it (that is its
    # purpose; test_approvals.py covers it). What the walk tries is a forged one.
    "token": lambda b: b.approval_token[:-6] + "forged",
    "environment_id": lambda b: b.environment.pk,
    # The vendor's catalogue (no organisation): the page lists only what the agent may see.
    "release_id": lambda b: b.environment.current_release_id,
    "rollout_id": lambda b: Rollout.objects.get(targets__organisation=b.org).pk,
    # Documents: B's project's page, and a published file of it.
    "target": lambda b: "project",
    "target_id": lambda b: b.project.pk,
    "version_id": lambda b: _beta_document(b).pk,
    "project_id": lambda b: b.project.pk,
    # A published knowledge-base article of a product only B runs.
    "article_id": lambda b: _beta_article(b).pk,
    "migration_id": lambda b: b.saas[0].pk,
    "offer_id": lambda b: b.saas[1].pk,
    "extra_id": lambda b: b.saas[2].pk,
    "step": lambda b: "read_only",
    # The offer mail's capability link: forged, as for approvals.
    "offer_token": lambda b: b.saas[3][:-6] + "forged",
    # A password-reset link names an account (B's reporter here); its token is forged.
    "uidb64": lambda b: urlsafe_base64_encode(force_bytes(b.ticket.reporter_id)),
    # The console's settings: global objects (none exists for a restricted agent) and
    # B's own webhook; people and organisations use ``user_id`` and ``code`` above.
    "plan_id": lambda b: _settings_object("plan", b).pk,
    "calendar_id": lambda b: _settings_object("calendar", b).pk,
    "answer_id": lambda b: _settings_object("answer", b).pk,
    "mailbox_id": lambda b: _settings_object("mailbox", b).pk,
    "webhook_id": lambda b: _settings_object("webhook", b).pk,
    # A bell notice of B's reporter about B's request.
    "notification_id": lambda b: b.notification.pk,
    # B's monitoring integration and a payload it posted (aftercare/alerts).
    "integration_id": lambda b: _beta_alerts(b)[0].pk,
    "payload_id": lambda b: _beta_alerts(b)[1].pk,
    # Telegram's webhook: the secret is the credential; the walk tries a forged one.
    "secret": lambda b: "forged-secret",
    # A downtime of B's environment (availability pages).
    "downtime_id": lambda b: _beta_downtime(b).pk,
}
# The same arguments pointing at nothing. An API answer about B's data must be exactly the
# answer about data that does not exist, or the answer itself confirms B's data is there.
GHOST_VALUES: dict[str, Callable[[Beta], object]] = {
    "number": lambda b: "AC-1999-999999",
    "pk": lambda b: 2_000_000_000,
    "code": lambda b: "no-such-organisation",
    "user_id": lambda b: 2_000_000_000,
    "token_id": lambda b: 2_000_000_000,
    "inbound_id": lambda b: 2_000_000_000,
    "outbound_id": lambda b: 2_000_000_000,
    "token": lambda b: "no-such-token",
    "environment_id": lambda b: 2_000_000_000,
    "project_id": lambda b: 2_000_000_000,
    "migration_id": lambda b: 2_000_000_000,
    "offer_id": lambda b: 2_000_000_000,
    "extra_id": lambda b: 2_000_000_000,
    "uidb64": lambda b: urlsafe_base64_encode(force_bytes(2_000_000_000)),
    "step": lambda b: "no-such-step",
    "offer_token": lambda b: "no-such-token",
    "target": lambda b: "project",
    "secret": lambda b: "no-such-secret",
    **{
        k: (lambda b: 2_000_000_000)
        for k in (
            "plan_id",
            "calendar_id",
            "answer_id",
            "mailbox_id",
            "webhook_id",
            "notification_id",
            "release_id",
            "article_id",
            "rollout_id",
            "integration_id",
            "payload_id",
            "downtime_id",
        )
    },
}


def _beta_alerts(beta: Beta) -> tuple:
    """B's alert integration (bound to B's environment) and a payload it posted."""
    from aftercare.alerts import services as alert_services
    from aftercare.alerts.models import AlertIntegration, AlertPayload

    integration = AlertIntegration.objects.filter(organisation=beta.org).first()
    if integration is None:
        integration, _secret = alert_services.issue(
            organisation=beta.org, environment=beta.environment, name="B monitoring", actor=None
        )
    payload = AlertPayload.objects.get_or_create(
        organisation=beta.org,
        integration=integration,
        defaults={"format": "generic", "body": "{", "outcome": "rejected", "status_code": 400},
    )[0]
    return integration, payload


def _settings_object(kind: str, beta: Beta):
    """One object per settings section for the walk (created on first use)."""
    from aftercare.desk.models import CannedAnswer
    from aftercare.mail.models import Mailbox
    from aftercare.sla.models import Calendar, SlaPlan
    from aftercare.webhooks.models import Subscription

    if kind == "plan":
        return SlaPlan.objects.get(is_default=True)
    if kind == "calendar":
        return Calendar.objects.get_or_create(name="Walk", defaults={"time_zone": "UTC"})[0]
    if kind == "answer":
        return CannedAnswer.objects.get_or_create(title="Walk", body="Hi", shared=True)[0]
    if kind == "mailbox":
        return Mailbox.objects.get_or_create(
            name="Walk", defaults={"address": "w@x.example", "host": "h", "username": "u"}
        )[0]
    return Subscription.objects.get_or_create(
        name="Beta hook", organisation=beta.org, defaults={"target_url": "https://93.184.215.14/"}
    )[0]


# Pages without arguments that a signed-in customer may open (their own pages). Anything
# else outside the console must take an argument pointing at data, and so gets a 404.
CUSTOMER_PAGES = {
    "home",
    "accounts:login",
    "accounts:logout",
    "accounts:profile",
    "accounts:language",
    # One's own password and e-mail address; the password-reset pages (public).
    "accounts:password-change",
    "accounts:email-change",
    "accounts:password-reset",
    "accounts:password-reset-done",
    "accounts:password-reset-complete",
    "portal:list",
    "portal:new",
    "portal:reports",
    # Approvals on the requests the customer may see (visible_tickets), answered only by
    # whoever desk.approvals.may_decide allows.
    "portal:approvals",
    # The REST API's lists and forms hold only the caller's own data; the token page
    # lists the caller's own tokens; the schema and its documentation hold no data.
    "api:v1:ticket-list",
    "api:v1:ticket-create",
    "api:v1:me",
    "api:v1:organisation-list",
    "api:v1:openapi-json",
    "api:docs",
    "api:token-list",
    # The customer's published documents (artefacts.services.visible_artefacts).
    "artefacts_portal:list",
    # The customer's own environments, versions and deployments (lifecycle).
    "lifecycle_portal:environments",
    # The coordinator's own organisations' availability (others: the list is empty).
    "availability_portal:index",
    # Published articles of the products the customer's organisations run (kb tests).
    "kb_portal:list",
    "kb_portal:suggest",
    # The customer's own organisations' go-live projects (read-only).
    "project_portal:list",
    # The customer's own organisations' SaaS migrations; the public quote form.
    "saas_portal:list",
    "quote:form",
    "quote:thanks",
    # Two-factor authentication: one's own device; the code step of signing in.
    "accounts:2fa",
    "accounts:2fa-verify",
    # Administrators only (404 for everyone else); the person is a query/form field.
    "accounts:contact-anonymise",
    # Health probes: the same answer for everyone, no organisation's data in it.
    "healthz",
    "readyz",
    # A redirect to the static icon.
    "favicon",
    # Full-text search over visible_tickets (aftercare/search/tests cover every role).
    "search:portal",
    # One's own messenger links (channels.services.visible_links).
    "channels_portal:messengers",
    # One's own notifications and mail choices (notifications.services.for_user).
    "notifications:inbox",
    "notifications:read",
    "notifications:bell",
    "notifications:settings",
    "api:v1:notification-list",
    "api:v1:notification-read",
}
# Pages anyone may open without signing in.
PUBLIC_PAGES = {
    "approval",
    "quote:form",
    "quote:thanks",
    "quote:offer-link",
    "accounts:login",
    "accounts:logout",
    "accounts:language",
    # Asking for a reset link answers the same for any address; the link itself is a
    # capability URL (a forged one is a 404, as for approvals).
    "accounts:password-reset",
    "accounts:password-reset-done",
    "accounts:password-reset-confirm",
    "accounts:password-reset-complete",
    "api:v1:openapi-json",
    "api:docs",
    "healthz",
    "readyz",
    "favicon",
    # Telegram's webhook: no sign-in; the secret in the address and header is checked
    # (403), and with Telegram off the address does not exist (404).
    "channels_webhook:telegram",
}
# API endpoints for staff only: customers get 403 whatever they name, as in the console.
STAFF_ONLY_API = {"api:v1:user-list", "api:v1:user-detail", "api:v1:ticket-sla"}
# Time spent (timetracking): staff only, as the console's time panel.
STAFF_ONLY_API |= {"api:v1:time-list", "api:v1:time-create"}
# The console's full-text search page (aftercare/search) is outside the console namespace.
STAFF_ONLY_API |= {"search:console"}
# Monitoring systems post alerts with their integration's own token, never a session:
# 401 to everyone signed in (aftercare/alerts/tests/test_boundaries.py).
INTEGRATION_TOKEN_API = {
    "api:v1:alerts-alertmanager",
    "api:v1:alerts-zabbix",
    "api:v1:alerts-generic",
}
# django-ninja's marker for the API's base path (it computes the schema's paths from it):
# it answers 404 to everyone and serves nothing.
NINJA_ROOT = "api:v1:api-root"


def _is_api(route: Route) -> bool:
    return route.namespace == "api:v1"


# Staff pages outside the API: a customer gets 403 whatever they name.
STAFF_NAMESPACES = {
    "alerts",
    "channels",
    "console",
    "mail",
    "monitoring",
    "lifecycle",
    "projects",
    "saas",
    "kb",
    "artefacts",
    "availability",
}


def _staff_only(route: Route) -> bool:
    return route.namespace in STAFF_NAMESPACES or route.name in STAFF_ONLY_API


def _fill(route: Route, beta: Beta, values=KWARG_VALUES) -> str:
    if route.name is None:
        pytest.fail(f"URL pattern {route.pattern!r} has no name; name it so it can be walked.")
    unknown = [k for k in route.kwargs if k not in KWARG_VALUES]
    if unknown:
        pytest.fail(
            f"{route.name} ({route.pattern}) takes {unknown}: add them to KWARG_VALUES "
            "in tests/test_security_urls.py so the security walk covers this URL."
        )
    return reverse(route.name, kwargs={k: values[k](beta) for k in route.kwargs})


def _body(response) -> str:
    if getattr(response, "streaming", False):
        # Reading to the end closes the file (the test client wraps the iterator).
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _assert_nothing_of_beta(response, path: str, beta: Beta) -> None:
    # Error pages echo the address that was asked for (the language form's "next"); that
    # is the visitor's own input, not B's data, so it is taken out before looking. After a
    # followed redirect the address is the one redirected to (same number, other surface).
    body = _body(response).replace(path, "").replace(response.request["PATH_INFO"], "")
    for secret in beta.secrets:
        assert secret not in body, f"{path}: response shows B's {secret!r}"
    location = response.get("Location", "")
    assert beta.ticket.number not in location and f"/{beta.org.code}/" not in location, (
        f"{path}: redirects towards B's data ({location})"
    )


def _nosy_query(beta: Beta) -> dict:
    """Query-string parameters that point a list, report or export at organisation B."""
    return {"organisation": beta.org.pk, "status": "all", "tab": "all", "format": "csv"}


def _attack_payloads(beta: Beta) -> list[dict]:
    """Form data that would change B's request if any view let it through."""
    common = {
        "organisation": beta.org.pk,
        "reporter": beta.ticket.reporter_id,
        "subject": "Injected subject",
        "description": "Injected description",
        "category": "incident",
        "priority": "1",
        "channel": "phone",
        "version": beta.ticket.version,
        "next_url": "/",
    }
    return [
        {**common, "action": "reply", "body": "Injected reply", "internal": "on"},
        {**common, "action": "transition", "target": Status.REJECTED, "reason": "Injected"},
        {**common, "action": "priority", "reason": "Injected"},
    ]


def _assert_beta_untouched(beta: Beta) -> None:
    fresh = Ticket.objects.get(pk=beta.ticket.pk)
    assert (fresh.status, fresh.version, fresh.priority) == (
        beta.ticket.status,
        beta.ticket.version,
        beta.ticket.priority,
    )
    assert fresh.messages.count() == 1
    assert not Message.objects.filter(body="Injected reply").exists()
    assert not Ticket.objects.filter(subject="Injected subject").exists()
    assert not Membership.objects.filter(
        organisation=beta.org, user__username__in=["owner", "coordinator", "operator", "manager"]
    ).exists()
    assert not Attachment.objects.filter(ticket=beta.ticket).exclude(pk=beta.attachment.pk)
    if beta.token is not None:
        assert ApiToken.objects.get(pk=beta.token.pk).revoked_at is None
    if beta.environment is not None:
        env = Environment.objects.get(pk=beta.environment.pk)
        assert (env.version, env.deployments.count()) == ("11.3", 1)
    if beta.project is not None:
        _assert_beta_project_untouched(beta.project)
    if beta.saas is not None:
        migration = SaasMigration.objects.get(pk=beta.saas[0].pk)
        assert (migration.state, migration.offers.count(), migration.extras.count()) == (
            "confirmed",
            1,
            1,
        )
        assert migration.events.count() == 0 and migration.offers.get().status == "sent"


# -- the REST API -----------------------------------------------------------------------


def _api_payloads(beta: Beta) -> list[dict]:
    """JSON bodies that would change B's request (or file one for B) if any endpoint let
    them through: every field any API body reads, aimed at B."""
    common = {
        "organisation": beta.org.pk,
        "reporter": beta.ticket.reporter_id,
        "subject": "Injected subject",
        "description": "Injected description",
        "category": "incident",
        "priority": 1,
        "priority_reason": "Injected",
        "version": beta.ticket.version,
        "target": Status.REJECTED,
        "reason": "Injected",
        "body": "Injected reply",
    }
    return [{**common, "internal": False}, {**common, "internal": True}]


def _api_requests(beta: Beta) -> list[tuple[str, dict]]:
    """What the walk sends to an API route: the pages' GETs and form POSTs, the JSON
    bodies, and a multipart upload with a real file (fresh objects on every call)."""
    upload = SimpleUploadedFile("injected.png", PNG, content_type="image/png")
    return [
        ("get", {}),
        ("get", {"data": _nosy_query(beta)}),
        *(("post", {"data": data}) for data in _attack_payloads(beta)),
        *(
            ("post", {"data": json.dumps(data), "content_type": "application/json"})
            for data in _api_payloads(beta)
        ),
        ("post", {"data": {"files": [upload], "body": "Injected reply"}}),
        ("delete", {}),
    ]


def _api_walk(client: Callable[[], Client], route: Route, beta: Beta, values=KWARG_VALUES):
    path = _fill(route, beta, values)
    return path, [getattr(client(), method)(path, **kw) for method, kw in _api_requests(beta)]


def _assert_api_keeps_b_hidden(client: Callable[[], Client], route: Route, beta: Beta, who):
    """B's data through an API route: nothing of B shown, and where the route names B's
    data, the very answer (status and body) that a made-up object gets."""
    path, responses = _api_walk(client, route, beta)
    for response in responses:
        assert response.status_code < 500, f"{path}: {response.status_code}"
        _assert_nothing_of_beta(response, path, beta)
    statuses = [r.status_code for r in responses]
    if route.kwargs:
        _ghost_path, ghosts = _api_walk(client, route, beta, GHOST_VALUES)
        for response, ghost in zip(responses, ghosts, strict=True):
            assert (response.status_code, _body(response)) == (ghost.status_code, _body(ghost)), (
                f"{response.request['REQUEST_METHOD']} {path} as {who}: B's data answers "
                f"{response.status_code}, a missing object {ghost.status_code}"
            )
    if _staff_only(route) and who in ("owner", "coordinator"):
        assert statuses[0] == 403, f"GET {path} as {who}: {statuses[0]}"
        assert set(statuses) <= {403, 405}, f"{path} as {who}: {statuses}"
    elif route.kwargs:
        # 404 as for anything missing; 405 for a method the route does not have; 400/422
        # for a body that is not what the route reads (decided before any lookup).
        assert set(statuses) <= {400, 404, 405, 422}, f"{path} as {who}: {statuses}"
        assert 404 in statuses, f"{path} as {who}: no request reached the lookup: {statuses}"


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def beta(other_org, outsider) -> Beta:
    ticket = ticket_for(
        outsider,
        other_org,
        subject=BETA_SUBJECT,
        attachments=[SimpleUploadedFile(BETA_FILE, PNG, content_type="image/png")],
    )
    token, _secret = api_tokens.issue(user=outsider, name="Beta integration")
    # B's mail: a request B's coordinator mailed in, a notification that failed, and an
    # approval B's coordinator was asked for (its link is a credential of B's).
    outsider.email = "boris@beta.example"
    outsider.save()
    inbound = ingest(
        make_mail(sender="boris@beta.example", subject=f"{BETA_SUBJECT} again")
    ).inbound
    outbound = OutboundMail.objects.filter(ticket=ticket).first()
    OutboundMail.objects.filter(pk=outbound.pk).update(state=OutboundMail.State.FAILED)
    captured = {}

    def keep(sender, approval, links, **kwargs):
        captured["token"] = links[0][1]

    approval_requested.connect(keep, dispatch_uid="test-security-walk")
    try:
        approvals.request(ticket=ticket, actor=staff(Role.CONSULTANT), action="Beta database fix")
    finally:
        approval_requested.disconnect(dispatch_uid="test-security-walk")
    return Beta(
        other_org,
        ticket,
        ticket.attachments.get(),
        token,
        inbound=inbound,
        outbound=outbound,
        approval_token=captured["token"],
        environment=_beta_environment(other_org),
        project=_beta_project(other_org),
        saas=saas_shallow(other_org),
        notification=Notification.objects.create(
            user=outsider,
            ticket=ticket,
            organisation=other_org,
            kind="reply",
            key=f"walk:{ticket.pk}",
            params={"author": "Beta"},
        ),
    )


def _beta_environment(other_org):
    """B's systems' environments, with a deployment (lifecycle pages take environment_id)."""
    beta_land = landscape(other_org)
    lifecycle_services.deploy(
        release=beta_land["r113"],
        environment=beta_land["test"],
        actor=staff(Role.CONSULTANT),
        result=Deployment.Result.SUCCEEDED,
    )
    # A rollout that plans B's production (rollout pages take rollout_id).
    rollout = Rollout.objects.create(release=beta_land["r113sp1"], created_by=staff(Role.MANAGER))
    PlannedUpgrade.objects.create(
        rollout=rollout, environment=beta_land["production"], planned_at=timezone.now()
    )
    return beta_land["test"]


def _beta_downtime(beta: Beta):
    """A downtime of B's environment (one per walk; the walk asks more than once)."""
    from datetime import timedelta

    from aftercare.availability.models import Downtime

    found = Downtime.objects.filter(organisation=beta.org).first()
    if found is None:
        start = timezone.now() - timedelta(hours=3)
        found = Downtime.objects.create(
            environment=beta.environment,
            started_at=start,
            ended_at=start + timedelta(hours=1),
            cause="Beta database crash",
        )
    return found


def _beta_article(beta: Beta):
    """A published article about a product only B runs (kb pages take article_id)."""
    from aftercare.kb.models import Article, ArticleText
    from aftercare.lifecycle.models import Product
    from aftercare.tenancy.models import System

    product, _created = Product.objects.get_or_create(name="Beta Scanner Suite")
    System.objects.get_or_create(organisation=beta.org, name="Scanners", product=product.name)
    article = Article.objects.filter(product=product).first()
    if article is None:
        article = Article.objects.create(product=product, visibility="published")
        ArticleText.objects.create(article=article, language="en", title="Beta scanner reset")
    return article


def _beta_document(beta):
    """A published manual on B's project (one per walk; the walk asks more than once)."""
    from aftercare.artefacts import services as artefact_services
    from aftercare.artefacts.models import Artefact, ArtefactVersion

    found = ArtefactVersion.objects.filter(artefact__organisation=beta.org).first()
    if found is not None:
        return found
    artefact = artefact_services.add(
        actor=staff(Role.MANAGER, username="walk-documents"),
        target=Artefact.Target.PROJECT,
        target_id=beta.project.pk,
        kind=Artefact.Kind.USER_MANUAL,
        title=f"{BETA_SUBJECT} manual",
        language="en",
        upload=SimpleUploadedFile(BETA_FILE.replace(".png", ".pdf"), b"%PDF-1.4 beta"),
        publish=True,
    )
    return artefact.versions.get()


def _beta_project(other_org):
    """B's go-live project with a participant and a snag (projects pages take project_id)."""
    from datetime import date

    from aftercare.projects import services as project_services
    from aftercare.projects.defaults import ensure_default
    from aftercare.projects.models import PlanTemplate

    ensure_default()
    manager = staff(Role.MANAGER)
    project = project_services.create_project(
        actor=manager,
        organisation=other_org,
        name="Beta WMS go-live",
        go_live_on=date(2030, 7, 1),
        template=PlanTemplate.objects.get(is_default=True),
    )
    project_services.add_participant(
        project=project, actor=manager, name="Boris Beta", side="customer"
    )
    project_services.add_snag(project=project, actor=manager, text="Beta label printer")
    return project


def _assert_beta_project_untouched(project) -> None:
    from aftercare.projects.models import Criterion, Project

    fresh = Project.objects.get(pk=project.pk)
    assert (fresh.status, fresh.go_live_on, fresh.users_informed_on) == (
        project.status,
        project.go_live_on,
        None,
    )
    assert not fresh.stages.filter(closed_at__isnull=False).exists()
    assert not Criterion.objects.filter(stage__project=fresh, met_at__isnull=False).exists()
    assert fresh.participants.filter(login_tested_at__isnull=True).count() == 1
    assert fresh.participants.count() == 1
    assert [s.status for s in fresh.snags.all()] == ["open"]
    assert not fresh.decisions.exists() and not fresh.incidents.exists()
    # Sign-offs (project_portal:sign, the plan page's "sign"), sessions and people.
    assert not fresh.signoffs.exists() and not fresh.test_sessions.exists()
    assert (fresh.plan_version, fresh.customer_responsible_id) == (1, None)


@pytest.fixture
def alpha_ticket(owner, org):
    """A's own request, so A's pages have something on them."""
    return ticket_for(owner, org, subject="Alpha invoices stuck")


@pytest.fixture
def restricted_operator(operator, org):
    AgentRestriction.objects.create(user=operator, organisation=org)
    return operator


def _signed_in(user) -> Client:
    # A fresh sign-in per request: the walk POSTs to the log-out URL too.
    client = Client()
    client.force_login(user)
    return client


# -- the walk itself --------------------------------------------------------------------


def test_it_walks_the_pages_that_matter():
    names = {r.name for r in ROUTES}
    assert {
        "console:ticket",
        "console:ticket-move",
        "console:organisation",
        "portal:detail",
        "desk:attachment",
        "accounts:login",
    } <= names
    assert not [r for r in ROUTES if r.pattern.startswith("admin/")]
    assert {
        "api:v1:ticket-detail",
        "api:v1:ticket-transition",
        "api:v1:attachment-download",
        "api:v1:organisation-detail",
        "api:token-revoke",
    } <= names


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name or r.pattern)
def test_it_knows_every_keyword_argument(route, beta):
    path = _fill(route, beta)
    if not route.kwargs and not _staff_only(route) and route.name != NINJA_ROOT:
        assert route.name in CUSTOMER_PAGES | INTEGRATION_TOKEN_API, (
            f"{route.name} takes no argument and is outside the console: decide whether "
            "customers may open it and add it to CUSTOMER_PAGES, or give it a rule here."
        )
    assert path.startswith("/")


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.kwargs], ids=lambda r: r.name or r.pattern
)
def test_it_fills_arguments_that_open_the_page_for_its_rightful_user(
    route, beta, operator, client_for
):
    """Control: the 404s below mean "not yours", not "no such page"."""
    if route.name == "channels_webhook:telegram":  # Telegram itself, with the real secret
        with override_settings(
            AFTERCARE_TELEGRAM_TOKEN="1:walk", AFTERCARE_TELEGRAM_WEBHOOK_SECRET="walk-secret"
        ):
            response = Client().get(
                reverse(route.name, args=["walk-secret"]),
                headers={"X-Telegram-Bot-Api-Secret-Token": "walk-secret"},
            )
        assert response.status_code == 405  # reached the view; updates are POSTed
        return
    path = _fill(route, beta)
    rightful = operator if _staff_only(route) else beta.ticket.reporter
    if (route.name or "").startswith("console:settings-"):  # managers' and admins' pages
        rightful = staff(Role.ADMIN, username="walk-admin")
    if route.name == "lifecycle:rollout-new":  # planning upgrades is L2's and up
        rightful = staff(Role.CONSULTANT, username="walk-consultant")
    if route.name == "approval":  # the real link, not the walk's forged one
        path = reverse("approval", args=[beta.approval_token])
    if route.name == "quote:offer-link":
        path = reverse("quote:offer-link", args=[beta.saas[3]])
    if route.name == "accounts:email-confirm":  # a real link, opened by its own account
        path = reverse(
            "accounts:email-confirm",
            args=[emailchange.make_token(rightful, "walk-new-address@example.test")],
        )
    client = client_for(rightful)  # signing in changes last_login, which the token signs
    if route.name == "accounts:password-reset-confirm":
        rightful.refresh_from_db()
        uid = urlsafe_base64_encode(force_bytes(rightful.pk))
        path = reverse(
            "accounts:password-reset-confirm",
            kwargs={"uidb64": uid, "token": default_token_generator.make_token(rightful)},
        )
    response = client.get(path, follow=True)
    _body(response)
    assert response.status_code not in (403, 404), path


@pytest.mark.parametrize("role", ["owner", "coordinator"])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name or r.pattern)
def test_it_keeps_organisation_b_from_a_customer_of_a(request, role, route, beta, alpha_ticket):
    user = request.getfixturevalue(role)
    if _is_api(route):
        _assert_api_keeps_b_hidden(lambda: _signed_in(user), route, beta, role)
        _assert_beta_untouched(beta)
        return
    path = _fill(route, beta)
    if route.namespace in STAFF_NAMESPACES:
        expected = 403
    elif route.kwargs:
        expected = 404
    else:
        expected = None  # the customer's own page: any answer, as long as B is not in it
    responses = [_signed_in(user).get(path), _signed_in(user).get(path, _nosy_query(beta))]
    responses += [_signed_in(user).post(path, data) for data in _attack_payloads(beta)]
    for response in responses:
        if expected is not None:
            assert response.status_code == expected, (
                f"{response.request['REQUEST_METHOD']} {path} as {role}: "
                f"{response.status_code}, expected {expected}"
            )
        assert response.status_code != 500
        _assert_nothing_of_beta(response, path, beta)
    _assert_beta_untouched(beta)


@pytest.fixture
def administrator(db):
    return staff(Role.ADMIN, username="administrator")


# Every staff role, restricted to A: the restriction must hold whatever the role allows.
@pytest.mark.parametrize(
    "role", ["operator", "consultant", "developer", "manager", "administrator"]
)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name or r.pattern)
def test_it_keeps_organisation_b_from_an_agent_restricted_to_a(
    request, role, route, beta, alpha_ticket, org
):
    agent = request.getfixturevalue(role)
    AgentRestriction.objects.create(user=agent, organisation=org)
    if _is_api(route):
        _assert_api_keeps_b_hidden(lambda: _signed_in(agent), route, beta, role)
        _assert_beta_untouched(beta)
        return
    path = _fill(route, beta)
    responses = [
        _signed_in(agent).get(path, follow=True),
        _signed_in(agent).get(path, _nosy_query(beta), follow=True),
    ]
    responses += [
        _signed_in(agent).post(path, data, follow=True) for data in _attack_payloads(beta)
    ]
    for response in responses:
        if route.kwargs:
            # A GET of a POST-only address is refused before anything is looked up.
            allowed = {404, 405} if response.request["REQUEST_METHOD"] == "GET" else {404}
            assert response.status_code in allowed, f"{path}: {response.status_code}"
        _assert_nothing_of_beta(response, path, beta)
    _assert_beta_untouched(beta)


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.name not in PUBLIC_PAGES], ids=lambda r: r.name or r.pattern
)
def test_it_sends_anonymous_visitors_to_sign_in(route, beta):
    path = _fill(route, beta)
    login = reverse("accounts:login")
    responses = (Client().get(path), Client().post(path, _attack_payloads(beta)[0]))
    if route.name == NINJA_ROOT:
        assert [r.status_code for r in responses] == [404, 404]
        return
    if _is_api(route):
        # An API does not redirect: it answers 401 JSON (405 for a method it lacks).
        responses = (*responses, Client().delete(path))
        assert 401 in [r.status_code for r in responses], path
        for response in responses:
            assert response.status_code in (401, 405), f"{path}: {response.status_code}"
            if response.status_code == 401:
                assert response.json()["code"] == "unauthenticated"
        _assert_beta_untouched(beta)
        return
    for response in responses:
        assert response.status_code == 302, f"{path}: {response.status_code}"
        assert response["Location"].startswith(f"{login}?next="), response["Location"]
    _assert_beta_untouched(beta)


def test_it_lets_anonymous_visitors_open_the_sign_in_page():
    response = Client().get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


# -- Django's admin and files outside the walk ------------------------------------------


@pytest.mark.parametrize("who", ["owner", "coordinator"])
def test_it_sends_a_customer_to_the_admin_sign_in_page(request, who, beta, client_for):
    client = client_for(request.getfixturevalue(who))
    admin_login = reverse("admin:login")
    for path in (
        reverse("admin:index"),
        reverse("admin:tenancy_organisation_changelist"),
        reverse("admin:tenancy_organisation_change", args=[beta.org.pk]),
        reverse("admin:accounts_user_changelist"),
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(admin_login), response["Location"]


def test_it_refuses_a_customer_signing_in_to_the_admin(owner):
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": "owner", "password": "pw-for-tests-123"}
    )
    # Django's admin form is gone: the admin is entered through the throttled sign-in.
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_it_serves_static_assets_without_signing_in():
    response = Client().get("/static/aftercare/app.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


def test_it_never_serves_uploaded_files_directly(beta, outsider, client_for):
    """Attachments go through the checked view only; their storage path is no URL."""
    stored = beta.attachment.file.name
    for prefix in ("/media/", "/static/", "/"):
        assert client_for(outsider).get(f"{prefix}{stored}").status_code == 404


# -- internal notes -------------------------------------------------------------------


@pytest.fixture
def noted_ticket(ticket, consultant):
    services.reply(
        ticket=ticket,
        actor=consultant,
        body="INTERNAL: their licence expired last month",
        internal=True,
        attachments=[SimpleUploadedFile("internal-diagnosis.png", PNG)],
    )
    services.reply(ticket=ticket, actor=consultant, body="We are looking into it.")
    return ticket


def test_it_never_shows_a_customer_an_internal_note(noted_ticket, owner, coordinator, client_for):
    for user in (owner, coordinator):
        response = client_for(user).get(reverse("portal:detail", args=[noted_ticket.number]))
        assert response.status_code == 200
        assert b"We are looking into it." in response.content  # public replies do show
        assert b"licence expired" not in response.content
        assert b"internal-diagnosis.png" not in response.content


def test_it_shows_the_internal_note_to_staff(noted_ticket, consultant, client_for):
    response = client_for(consultant).get(reverse("console:ticket", args=[noted_ticket.number]))
    assert b"licence expired" in response.content
    assert b"internal-diagnosis.png" in response.content


def test_it_hides_an_internal_note_attachment_from_the_customer(
    noted_ticket, owner, coordinator, consultant, client_for
):
    att = Attachment.objects.get(ticket=noted_ticket, is_internal=True)
    url = reverse("desk:attachment", args=[att.pk])
    assert client_for(owner).get(url).status_code == 404
    assert client_for(coordinator).get(url).status_code == 404
    response = client_for(consultant).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG


# -- restricted agents ----------------------------------------------------------------


def test_it_gives_a_restricted_agent_404_for_another_organisations_request(
    restricted_operator, beta, alpha_ticket, client_for
):
    client = client_for(restricted_operator)
    assert client.get(reverse("console:ticket", args=[alpha_ticket.number])).status_code == 200
    assert client.get(reverse("console:ticket", args=[beta.ticket.number])).status_code == 404
    response = client.post(
        reverse("console:ticket-move", args=[beta.ticket.number]),
        {"target": Status.SPRINT, "version": beta.ticket.version},
    )
    assert response.status_code == 404
    assert Ticket.objects.get(pk=beta.ticket.pk).status == Status.BACKLOG


def test_it_lets_an_unrestricted_agent_open_every_organisations_request(operator, beta, client_for):
    response = client_for(operator).get(reverse("console:ticket", args=[beta.ticket.number]))
    assert response.status_code == 200
    assert BETA_SUBJECT.encode() in response.content


def test_it_keeps_a_restricted_agents_queue_and_board_to_their_organisations(
    restricted_operator, beta, alpha_ticket, client_for
):
    client = client_for(restricted_operator)
    for name in ("console:queue", "console:board", "console:organisations", "console:ticket-new"):
        body = client.get(reverse(name), {"status": "all"}).content.decode()
        assert beta.ticket.number not in body, name
        assert beta.org.name not in body, name
    assert alpha_ticket.number in client.get(reverse("console:queue")).content.decode()
