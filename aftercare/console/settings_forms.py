"""Forms of the console's settings pages (SLA plans and calendars, canned answers,
mailboxes, webhooks, users, organisations).

ModelForms with explicit fields; the model's own ``clean`` and validators still run (the
form calls ``full_clean``), so the rules stay where the admin also meets them. Secrets
(mailbox password, webhook secret) are write-only here: never given back as a value.
"""

from __future__ import annotations

import re
from datetime import date, time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import STAFF_ROLES, Role
from aftercare.desk.models import CannedAnswer, Priority, Status
from aftercare.mail.models import Mailbox
from aftercare.sla.models import Calendar, CalendarException, SlaPlan, SlaTarget
from aftercare.tenancy.models import Organisation
from aftercare.webhooks.models import EventName, Subscription

WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
# Higher means more power. Nobody grants a role above their own.
ROLE_RANK = {
    Role.CUSTOMER: 0,
    Role.COORDINATOR: 0,
    Role.OPERATOR: 1,
    Role.CONSULTANT: 1,
    Role.DEVELOPER: 1,
    Role.MANAGER: 2,
    Role.ADMIN: 3,
}
# Declared (not generated) organisation fields: generating one would query the scoped
# manager at import, outside any scope. Each form sets the visible ones per request.
_NO_ORGANISATIONS = Organisation.objects.with_scopes_disabled().none()
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(z, z) for z in sorted(available_timezones()) if "/" in z or z == "UTC"]


@cache
def country_choices() -> list[tuple[str, str]]:
    import holidays

    return [(c, c) for c in sorted(holidays.list_supported_countries())]


def rank(role: str | None) -> int:
    return ROLE_RANK.get(role, 0) if role else 0


class _Styled:
    """Marks invalid widgets so the page can show them (``aria-invalid``)."""

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                self.fields[name].widget.attrs["aria-invalid"] = "true"  # type: ignore[attr-defined]


# -- canned answers ---------------------------------------------------------------------


class CannedAnswerForm(_Styled, forms.ModelForm):
    class Meta:
        model = CannedAnswer
        fields = ["title", "body", "language", "shared", "set_status", "set_priority"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}

    def __init__(self, *args: Any, may_share: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["set_priority"].widget.choices = [
            ("", "—"),
            *Priority.choices,
        ]
        self.fields["body"].help_text = ""  # the page lists the placeholders beside it
        self.fields["language"].choices = [("", _("Any language")), *settings.LANGUAGES]
        self.fields["set_status"].choices = [("", "—"), *Status.choices]
        if not may_share:
            del self.fields["shared"]


# -- SLA --------------------------------------------------------------------------------


class SlaPlanForm(_Styled, forms.ModelForm):
    pause_statuses = forms.MultipleChoiceField(
        label=_("Statuses that pause the resolution clock"),
        choices=Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: Waiting for customer."),
    )
    stop_statuses = forms.MultipleChoiceField(
        label=_("Statuses that stop both clocks"),
        choices=Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: Done, Released, Archived and Rejected."),
    )

    class Meta:
        model = SlaPlan
        fields = [
            "name",
            "calendar",
            "first_response",
            "warn_percent",
            "escalate_to_l2",
            "is_default",
            "pause_statuses",
            "stop_statuses",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["calendar"].empty_label = _("None: the customer's time zone and country")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        both = set(cleaned.get("pause_statuses") or []) & set(cleaned.get("stop_statuses") or [])
        if both:
            self.add_error(
                "stop_statuses",
                _("A status cannot both pause and stop the clock: %(s)s")
                % {"s": ", ".join(str(Status(s).label) for s in sorted(both))},
            )
        return cleaned


class SlaTargetsForm(_Styled, forms.Form):
    """One category's targets of a plan as a grid: a row per priority, a column per
    metric. A row left empty has no target (the any-category row, or no clock)."""

    def __init__(self, *args: Any, plan: SlaPlan, category: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.category = category
        self.existing = {
            t.priority: t for t in plan.targets.all() if (t.category or "") == category
        }
        self.rows = []
        for value, label in Priority.choices:
            target = self.existing.get(value)
            first = forms.IntegerField(
                label=_("%(priority)s: first response (minutes)") % {"priority": label},
                min_value=1,
                max_value=525_600,
                required=False,
                initial=target.first_response_minutes if target else None,
                widget=forms.NumberInput(attrs={"class": "minutes"}),
            )
            resolution = forms.IntegerField(
                label=_("%(priority)s: resolution (minutes)") % {"priority": label},
                min_value=1,
                max_value=5_256_000,
                required=False,
                initial=target.resolution_minutes if target else None,
                widget=forms.NumberInput(attrs={"class": "minutes"}),
            )
            around = forms.BooleanField(
                label=_("%(priority)s: count every hour (24x7)") % {"priority": label},
                required=False,
                initial=target.around_the_clock if target else False,
            )
            for field in (first, resolution, around):
                field.widget.attrs["aria-label"] = str(field.label)
            self.fields[f"first_{value}"] = first
            self.fields[f"resolution_{value}"] = resolution
            self.fields[f"around_{value}"] = around
            self.rows.append((value, label))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for value, _label in self.rows:
            first = cleaned.get(f"first_{value}")
            resolution = cleaned.get(f"resolution_{value}")
            if f"first_{value}" in self.errors or f"resolution_{value}" in self.errors:
                continue
            if (first is None) != (resolution is None):
                missing = f"first_{value}" if first is None else f"resolution_{value}"
                self.add_error(missing, _("Give both times, or neither to have no target."))
            elif first is not None and resolution < first:
                self.add_error(
                    f"resolution_{value}",
                    _("The resolution time cannot be shorter than the first response time."),
                )
        return cleaned

    def grid(self) -> list[dict[str, Any]]:
        return [
            {
                "label": label,
                "first": self[f"first_{value}"],
                "resolution": self[f"resolution_{value}"],
                "around": self[f"around_{value}"],
            }
            for value, label in self.rows
        ]

    def save(self) -> list[str]:
        """Write the grid; returns the changed priorities' labels (for the audit)."""
        changed = []
        for value, label in self.rows:
            first = self.cleaned_data.get(f"first_{value}")
            resolution = self.cleaned_data.get(f"resolution_{value}")
            around = bool(self.cleaned_data.get(f"around_{value}"))
            target = self.existing.get(value)
            if first is None:
                if target is not None:
                    target.delete()
                    changed.append(str(label))
                continue
            if target is None:
                target = SlaTarget(plan=self.plan, priority=value, category=self.category)
            elif (
                target.first_response_minutes,
                target.resolution_minutes,
                target.around_the_clock,
            ) == (first, resolution, around):
                continue
            target.first_response_minutes = first
            target.resolution_minutes = resolution
            target.around_the_clock = around
            target.save()
            changed.append(str(label))
        return changed


def _parse_intervals(text: str) -> list[list[str]]:
    intervals = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        match = _INTERVAL.match(part)
        if not match:
            raise ValidationError(
                _("“%(part)s” is not a time range like 09:00-13:00."), params={"part": part}
            )
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if not (0 <= h1 <= 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValidationError(_("“%(part)s” is not a valid time."), params={"part": part})
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not 0 <= start < end <= 1440:
            raise ValidationError(
                _("“%(part)s” must end after it starts, by 24:00."), params={"part": part}
            )
        intervals.append([f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"])
    intervals.sort()
    for (_s1, e1), (s2, _e2) in zip(intervals, intervals[1:], strict=False):
        if s2 < e1:
            raise ValidationError(_("The time ranges overlap."))
    return intervals


def _format_intervals(intervals: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in intervals or [])


class CalendarForm(_Styled, forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("Time zone"), choices=time_zone_choices, initial=settings.TIME_ZONE
    )
    country = forms.ChoiceField(
        label=_("Country (public holidays)"),
        choices=lambda: [("", "—"), *country_choices()],
        required=False,
    )
    days_off = forms.CharField(
        label=_("Extra days off"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-12-24 Christmas Eve"}),
        help_text=_("One a line: the date (YYYY-MM-DD), then a note if you like."),
    )
    working_days = forms.CharField(
        label=_("Extra working days"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2026-12-27 09:00-13:00"}),
        help_text=_(
            "One a line: the date, optionally the hours (HH:MM-HH:MM; else the whole day), "
            "then a note."
        ),
    )

    class Meta:
        model = Calendar
        fields = ["name", "time_zone", "country", "subdivision", "around_the_clock"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hours = (self.instance.hours or {}) if self.instance.pk else {}
        for day, label in enumerate(WEEKDAYS):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                initial=_format_intervals(hours.get(str(day), []))
                if self.instance.pk
                else ("09:00-18:00" if day < 5 else ""),
            )
        if self.instance.pk:
            rows = list(self.instance.exceptions.order_by("day"))
            self.fields["days_off"].initial = "\n".join(
                f"{e.day.isoformat()} {e.note}".strip()
                for e in rows
                if e.kind == CalendarException.Kind.OFF
            )
            self.fields["working_days"].initial = "\n".join(
                " ".join(
                    x
                    for x in (
                        e.day.isoformat(),
                        f"{e.starts:%H:%M}-{e.ends:%H:%M}" if e.starts and e.ends else "",
                        e.note,
                    )
                    if x
                )
                for e in rows
                if e.kind == CalendarException.Kind.WORKING
            )

    def day_fields(self) -> list[forms.BoundField]:
        return [self[f"day_{day}"] for day in range(7)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for day in range(7):
            try:
                intervals = _parse_intervals(cleaned.get(f"day_{day}") or "")
            except ValidationError as exc:
                self.add_error(f"day_{day}", exc)
                continue
            if intervals:
                hours[str(day)] = intervals
        self.instance.hours = hours
        exceptions: dict[date, tuple] = {}
        for name, kind in (
            ("days_off", CalendarException.Kind.OFF),
            ("working_days", CalendarException.Kind.WORKING),
        ):
            for line in (cleaned.get(name) or "").splitlines():
                line = line.strip()
                if not line:
                    continue
                day_text, _sep, rest = line.partition(" ")
                try:
                    day = date.fromisoformat(day_text)
                except ValueError:
                    self.add_error(
                        name,
                        _("“%(line)s” does not start with a date (YYYY-MM-DD).") % {"line": line},
                    )
                    continue
                if day in exceptions:
                    self.add_error(name, _("%(day)s is listed twice.") % {"day": day_text})
                    continue
                starts = ends = None
                first, _sep, note = rest.strip().partition(" ")
                if kind == CalendarException.Kind.WORKING and _INTERVAL.match(first):
                    try:
                        (a, b), *_more = _parse_intervals(first)
                    except ValidationError as exc:
                        self.add_error(name, exc)
                        continue
                    starts = time.fromisoformat(a) if a != "24:00" else time(23, 59)
                    ends = time.fromisoformat(b) if b != "24:00" else time(23, 59)
                else:
                    note = rest.strip()
                exceptions[day] = (kind, starts, ends, note.strip()[:200])
        self.exceptions = exceptions
        return cleaned

    def save_exceptions(self) -> bool:
        """Replace the calendar's extra days; True if anything changed."""
        calendar = self.instance
        before = {e.day: (e.kind, e.starts, e.ends, e.note) for e in calendar.exceptions.all()}
        if before == self.exceptions:
            return False
        calendar.exceptions.all().delete()
        CalendarException.objects.bulk_create(
            CalendarException(calendar=calendar, day=d, kind=k, starts=s, ends=e, note=n)
            for d, (k, s, e, n) in sorted(self.exceptions.items())
        )
        return True


# -- mailboxes --------------------------------------------------------------------------


class MailboxForm(_Styled, forms.ModelForm):
    default_organisation = forms.ModelChoiceField(
        label=_("Default organisation"),
        queryset=_NO_ORGANISATIONS,
        required=False,
        help_text=Mailbox._meta.get_field("default_organisation").help_text,
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored password."),
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "address",
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "processed_folder",
            "default_organisation",
            "register_unknown_senders",
            "default_category",
            "improvement_address",
            "batch_size",
            "is_active",
        ]

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_organisation"].queryset = organisations
        self.stored_password = self.instance.password if self.instance.pk else ""
        self.fields["default_organisation"].empty_label = _("None")
        if not self.instance.pk:
            self.fields["password"].help_text = ""

    def clean_password(self) -> str:
        return self.cleaned_data.get("password") or self.stored_password

    def clean_port(self) -> int:
        port = self.cleaned_data["port"]
        if not 1 <= port <= 65535:
            raise ValidationError(_("A port is between 1 and 65535."))
        return port


# -- webhooks ---------------------------------------------------------------------------


class WebhookForm(_Styled, forms.ModelForm):
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=_NO_ORGANISATIONS,
        required=False,
        help_text=Subscription._meta.get_field("organisation").help_text,
    )
    target_url = forms.CharField(
        label=_("Target URL"),
        max_length=500,
        help_text=_(
            "An https:// address on the public internet. Addresses on this network "
            "(loopback, private, link-local, cloud metadata) are refused."
        ),
        widget=forms.URLInput(),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventName.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Internal notes are never sent."),
    )

    class Meta:
        model = Subscription
        fields = ["name", "organisation", "target_url", "events", "active"]

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        self.fields["organisation"].empty_label = _("All organisations")


# -- organisations ----------------------------------------------------------------------


class OrganisationForm(_Styled, forms.ModelForm):
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        initial=Organisation._meta.get_field("time_zone").default,
    )
    country = forms.ChoiceField(
        label=_("Country"),
        choices=country_choices,
        initial=Organisation._meta.get_field("country").default,
        help_text=Organisation._meta.get_field("country").help_text,
    )

    class Meta:
        model = Organisation
        fields = ["name", "code", "country", "time_zone", "language", "mail_domains", "is_active"]
        widgets = {
            "mail_domains": forms.TextInput(attrs={"placeholder": "example.com, example.org"})
        }

    def clean_mail_domains(self) -> str:
        raw = self.cleaned_data.get("mail_domains") or ""
        domains = []
        for part in raw.replace(";", ",").replace(" ", ",").split(","):
            part = part.strip().lower().lstrip("@")
            if not part:
                continue
            if not _DOMAIN.match(part):
                raise ValidationError(_("“%(d)s” is not a domain name."), params={"d": part})
            if part not in domains:
                domains.append(part)
        others = Organisation.objects.with_scopes_disabled().exclude(pk=self.instance.pk)
        taken = {d for o in others.exclude(mail_domains="") for d in o.domain_list()}
        clash = [d for d in domains if d in taken]
        if clash:
            # Which organisation is not said: the editor may not be allowed to see it.
            raise ValidationError(
                _("Another organisation already lists %(d)s."), params={"d": ", ".join(clash)}
            )
        return ", ".join(domains)


# -- users ------------------------------------------------------------------------------


class UserForm(_Styled, forms.ModelForm):
    """A person: profile fields, then either a staff role (with an optional restriction
    to some organisations) or customer memberships. The caller decides which parts the
    editor may touch: ``roles`` is the staff roles they may grant (empty: customer
    users only), ``organisations`` the organisations they may give or take away."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"), choices=time_zone_choices, initial=settings.TIME_ZONE
    )
    staff_role = forms.ChoiceField(label=_("Role"), required=False)
    restricted_to = forms.ModelMultipleChoiceField(
        label=_("Restricted to organisations"),
        queryset=_NO_ORGANISATIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Staff only. None ticked: the person serves every organisation."),
    )
    member_of = forms.ModelMultipleChoiceField(
        label=_("Customer user of"),
        queryset=_NO_ORGANISATIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    coordinator_of = forms.ModelMultipleChoiceField(
        label=_("Coordinator of"),
        queryset=_NO_ORGANISATIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Coordinators see all their organisation's requests and approve changes."),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "first_name",
            "last_name",
            "email",
            "phone",
            "language",
            "time_zone",
            "is_active",
        ]

    def __init__(
        self,
        *args: Any,
        roles: list[str],
        organisations: Any,
        current_role: str = "",
        lock_role: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        customer_label = _("Customer user (no staff role)")
        if roles:
            choices = [("", customer_label)] + [
                (r, Role(r).label) for r in STAFF_ROLES if r in roles
            ]
            self.fields["staff_role"].choices = choices
            self.fields["staff_role"].initial = current_role
            self.fields["restricted_to"].queryset = organisations
            if lock_role:
                self.fields["staff_role"].disabled = True
                self.fields["staff_role"].help_text = _("You cannot change your own role.")
        else:
            del self.fields["staff_role"]
            del self.fields["restricted_to"]
        self.fields["member_of"].queryset = organisations
        self.fields["coordinator_of"].queryset = organisations

    def clean_email(self) -> str:
        return (self.cleaned_data.get("email") or "").strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("staff_role") and (
            cleaned.get("member_of") or cleaned.get("coordinator_of")
        ):
            self.add_error(
                "member_of", _("Staff members are not customer users: untick the organisations.")
            )
        if (
            getattr(self, "require_organisation", False)
            and not cleaned.get("staff_role")
            and not cleaned.get("member_of")
            and not cleaned.get("coordinator_of")
        ):
            self.add_error(
                "member_of", _("Tick at least one organisation (or choose a staff role).")
            )
        both = set(cleaned.get("member_of") or []) & set(cleaned.get("coordinator_of") or [])
        if both:
            self.add_error(
                "coordinator_of",
                _("Tick an organisation either as customer user or as coordinator, not both."),
            )
        return cleaned
