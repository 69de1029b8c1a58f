"""Who may see and change which document, and the only code that writes them."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.accounts.models import User
from aftercare.accounts.roles import PermSet
from aftercare.artefacts.models import Artefact, ArtefactVersion
from aftercare.desk.attachments import content_type_for, safe_name, validate_upload
from aftercare.ops.maintenance import check_writable

T = Artefact.Target
# Who may add and publish documents on each kind of target.
WRITE_PERMISSION = {
    T.PROJECT: "projects.change_project",
    T.STAGE: "projects.change_project",
    T.MIGRATION: "saas.manage_migration",
    T.RELEASE: "lifecycle.change_release",
}


def _targets(permset: PermSet, target: str) -> QuerySet:
    """Ids of the targets of this kind the person may see (a subquery)."""
    from aftercare.lifecycle.models import Release
    from aftercare.projects.models import Stage
    from aftercare.projects.querysets import visible_projects
    from aftercare.saas.models import Migration
    from aftercare.tenancy.models import System

    if target in (T.PROJECT, T.STAGE):
        projects = visible_projects(permset)
        if target == T.PROJECT:
            return projects.values("pk")
        return Stage.objects.filter(project__in=projects.values("pk")).values("pk")
    if target == T.MIGRATION:
        if permset.is_agent:
            from aftercare.saas.views import visible_migrations

            return visible_migrations(permset).values("pk")
        return Migration.objects.filter(organisation_id__in=list(permset.memberships)).values("pk")
    # Releases: an agent's catalogue (restricted agents: the products their customers
    # run); a customer: the products their organisations run.
    if permset.is_agent:
        if not permset.has("lifecycle.view_environment"):
            return Release.objects.none().values("pk")
        from aftercare.lifecycle.services import visible_releases

        return visible_releases(permset).values("pk")
    products = System.objects.filter(organisation_id__in=list(permset.memberships)).values(
        "product"
    )
    return Release.objects.filter(product__name__in=products).values("pk")


def visible_artefacts(permset: PermSet) -> QuerySet[Artefact]:
    """The one rule: staff see the documents of what they may see; customers only the
    published documents of their own organisations' projects and migrations and of the
    releases of the products they run."""
    rows = Artefact.objects.all()
    if not permset.is_authenticated:
        return rows.none()
    condition = Q()
    for target in T.values:
        condition |= Q(target=target, target_id__in=_targets(permset, target))
    rows = rows.filter(condition)
    if not permset.is_agent:
        rows = rows.filter(is_published=True)
    return rows


def target_of(target: str, target_id: int):
    """(object, organisation id or None, label) of a target, or None if there is none."""
    from aftercare.lifecycle.models import Release
    from aftercare.projects.models import Project, Stage
    from aftercare.saas.models import Migration

    model = {T.PROJECT: Project, T.STAGE: Stage, T.MIGRATION: Migration, T.RELEASE: Release}
    if target not in model:
        return None
    manager = model[target].objects
    rows = manager.with_scopes_disabled() if hasattr(manager, "with_scopes_disabled") else manager
    obj = rows.filter(pk=target_id).first()
    if obj is None:
        return None
    org = getattr(obj, "organisation_id", None) if target != T.RELEASE else None
    return obj, org, str(obj)


def may_see_target(permset: PermSet, target: str, target_id: int) -> bool:
    return target in T.values and _targets(permset, target).filter(pk=target_id).exists()


def may_write(permset: PermSet, target: str, target_id: int) -> bool:
    if not permset.is_agent or not permset.has(WRITE_PERMISSION.get(target, "-")):
        return False
    if target == T.RELEASE and permset.organisation_scope is not None:
        return False  # the catalogue is changed by agents who serve every customer
    return may_see_target(permset, target, target_id)


def _check_content(upload, url: str) -> None:
    if upload is None and not url.strip():
        raise ValidationError(_("Attach a file or give a link."))
    if upload is not None and url.strip():
        raise ValidationError(_("Attach a file or give a link, not both."))
    if upload is not None:
        validate_upload(upload)
    elif not url.strip().lower().startswith(("https://", "http://")):
        raise ValidationError(_("A link must start with https:// or http://."))


def _version(artefact: Artefact, actor: User, upload, url: str, note: str) -> ArtefactVersion:
    number = (artefact.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ArtefactVersion(
        artefact=artefact, number=number, uploaded_by=actor, note=note.strip()[:300]
    )
    if upload is not None:
        name = safe_name(upload.name or "file")
        version.name = name
        version.size = upload.size or 0
        version.content_type = content_type_for(name)
        version.file.save(name, upload, save=False)
    else:
        version.url = url.strip()
    version.save()
    return version


@transaction.atomic
def add(
    *,
    actor: User,
    target: str,
    target_id: int,
    kind: str,
    title: str,
    language: str,
    upload=None,
    url: str = "",
    publish: bool = False,
    note: str = "",
) -> Artefact:
    check_writable()
    if not may_write(PermSet(actor), target, target_id):
        raise PermissionDenied(_("You may not add documents here."))
    found = target_of(target, target_id)
    if found is None:
        raise PermissionDenied(_("You may not add documents here."))
    title = title.strip()
    if not title:
        raise ValidationError(_("Give the document a title."))
    _check_content(upload, url)
    now = timezone.now()
    artefact = Artefact.objects.create(
        organisation_id=found[1],
        target=target,
        target_id=target_id,
        kind=kind,
        title=title[:200],
        language=language,
        is_published=publish,
        published_at=now if publish else None,
        published_by=actor if publish else None,
        created_by=actor,
    )
    _version(artefact, actor, upload, url, note)
    return artefact


@transaction.atomic
def add_version(*, actor: User, artefact: Artefact, upload=None, url: str = "", note: str = ""):
    check_writable()
    if not may_write(PermSet(actor), artefact.target, artefact.target_id):
        raise PermissionDenied(_("You may not change this document."))
    _check_content(upload, url)
    Artefact.objects.select_for_update().filter(pk=artefact.pk).first()
    return _version(artefact, actor, upload, url, note)


@transaction.atomic
def set_published(*, actor: User, artefact: Artefact, published: bool) -> Artefact:
    check_writable()
    if not may_write(PermSet(actor), artefact.target, artefact.target_id):
        raise PermissionDenied(_("You may not change this document."))
    artefact.is_published = published
    artefact.published_at = timezone.now() if published else None
    artefact.published_by = actor if published else None
    artefact.save(update_fields=["is_published", "published_at", "published_by"])
    return artefact
