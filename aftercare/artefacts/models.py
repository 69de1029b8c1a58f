"""Files that belong to a project, a stage, a SaaS migration or a release: user manuals,
test plans, test-session procedures, release notes, videos — versioned, one language
each, visible to the customer once published.

An artefact of a project, stage or migration belongs to that target's organisation. An
artefact of a release belongs to the vendor's catalogue (``organisation`` is empty), like
``lifecycle.Release`` itself, and reaches the customers who run its product. That is why
this model has no django-scopes manager: ``services.visible_artefacts`` is the one rule
every page, download and test goes through.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.tenancy.models import Organisation


class Artefact(models.Model):
    class Kind(models.TextChoices):
        USER_MANUAL = "user_manual", _("User manual")
        TEST_PLAN = "test_plan", _("Test plan")
        TEST_PROCEDURE = "test_procedure", _("Test-session procedure")
        RELEASE_NOTES = "release_notes", _("Release notes")
        VIDEO = "video", _("Video")
        OTHER = "other", _("Other document")

    class Target(models.TextChoices):
        PROJECT = "project", _("Project")
        STAGE = "stage", _("Project stage")
        MIGRATION = "migration", _("SaaS migration")
        RELEASE = "release", _("Release")

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(_("belongs to"), max_length=16, choices=Target.choices)
    target_id = models.PositiveBigIntegerField()
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    is_published = models.BooleanField(_("published to the customer"), default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["target", "target_id", "kind", "title", "language"]
        indexes = [models.Index(fields=["target", "target_id"], name="artefact_target")]

    def __str__(self) -> str:
        return f"{self.title} [{self.language}]"


class ArtefactVersion(models.Model):
    """One version of an artefact: an uploaded file, or a link (videos)."""

    artefact = models.ForeignKey(Artefact, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to="artefacts/%Y/%m/", blank=True, max_length=300)
    name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    content_type = models.CharField(max_length=120, blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)
    note = models.CharField(_("what changed"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["artefact", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["artefact", "number"], name="unique_artefact_version"),
            models.CheckConstraint(
                condition=~models.Q(file="") | ~models.Q(url=""), name="artefact_file_or_link"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.artefact_id} v{self.number}"
