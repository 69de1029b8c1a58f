"""Knowledge-base articles: per product and version range, in the five languages.

An article belongs to one ``lifecycle.Product`` (the vendor's catalogue, no organisation):
who may read it follows from who runs the product (``tenancy.System.product``), never
from a list of organisations on the article. Each language's text is one
``ArticleText`` row; customers read their own language, then English, then any.
Rules (who may write, which product, maintenance mode) live in ``services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.lifecycle.models import Product, version_key


class Article(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual")
        HOWTO = "howto", _("How-to")
        KNOWN_ISSUE = "known_issue", _("Known issue")
        WORKAROUND = "workaround", _("Workaround")
        VIDEO = "video", _("Video")

    class Visibility(models.TextChoices):
        INTERNAL = "internal", _("Internal (staff only)")
        PUBLISHED = "published", _("Published (customers)")

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="articles", verbose_name=_("product")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.HOWTO)
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    version_from = models.CharField(
        _("from version"),
        max_length=64,
        blank=True,
        help_text=_("The first version it applies to, e.g. 11.3. Empty: every earlier one."),
    )
    version_to = models.CharField(
        _("to version"),
        max_length=64,
        blank=True,
        help_text=_("The last version it applies to. Empty: every later one."),
    )
    video_url = models.URLField(
        _("video link"),
        max_length=500,
        blank=True,
        help_text=_("For videos: the address of the recording (shown as a link)."),
    )
    source_ticket = models.ForeignKey(
        "desk.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("documentation request"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # How many distinct readers said it solved their problem (one ArticleFeedback each).
    solved_count = models.PositiveIntegerField(_("solved problems"), default=0)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["-updated_at", "-pk"]
        indexes = [
            models.Index(fields=["product", "visibility"], name="kb_article_product"),
            models.Index(fields=["-updated_at", "-id"], name="kb_article_updated"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.product}"

    @property
    def is_published(self) -> bool:
        return self.visibility == self.Visibility.PUBLISHED

    def applies_to(self, version: str) -> bool | None:
        """Whether the article covers ``version`` (None when the version is unknown)."""
        if not version:
            return None
        key = version_key(version)
        if self.version_from and key < version_key(self.version_from):
            return False
        return not (self.version_to and key > version_key(self.version_to))

    def text_in(self, language: str | None) -> ArticleText | None:
        """The text for a reader of ``language``: theirs, else English, else any.

        Reads ``translations.all()`` so a prefetch serves a whole list without queries.
        """
        texts = {t.language: t for t in self.translations.all()}
        for wanted in (language, "en"):
            if wanted and wanted in texts:
                return texts[wanted]
        return next(iter(sorted(texts.values(), key=lambda t: t.language)), None)


class ArticleText(models.Model):
    """An article's title and body in one language."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="translations", verbose_name=_("article")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=250)
    body = models.TextField(
        _("text"),
        blank=True,
        help_text=_(
            "Plain text. Blank lines separate paragraphs; lines starting with “# ” are "
            "headings, “- ” list items; **bold** and `code` are kept; links are linked."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("article text")
        verbose_name_plural = _("article texts")
        ordering = ["article", "language"]
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="unique_article_text")
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.language}]"


class ArticleFeedback(models.Model):
    """One reader said the article solved their problem (counted once per person)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        constraints = [
            models.UniqueConstraint(fields=["article", "user"], name="unique_article_feedback")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} ✓ {self.user_id}"


class ArticleEvent(models.Model):
    """The article's audit trail: who changed what, when (staff only)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("article event")
        verbose_name_plural = _("article events")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.action
