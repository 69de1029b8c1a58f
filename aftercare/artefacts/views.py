"""Staff: the documents of one target (add, new version, publish). Everyone: downloads,
through the one visibility rule. Customers: their published documents in the portal."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from aftercare.artefacts import services
from aftercare.artefacts.forms import ArtefactForm, VersionForm
from aftercare.artefacts.models import Artefact, ArtefactVersion
from aftercare.lib.files import stored_file_response


def _with_versions(rows):
    artefacts = list(rows.select_related("created_by", "published_by"))
    versions = defaultdict(list)
    for v in ArtefactVersion.objects.filter(artefact__in=artefacts).select_related("uploaded_by"):
        versions[v.artefact_id].append(v)
    for a in artefacts:
        a.all_versions = versions[a.pk]
        a.current = a.all_versions[0] if a.all_versions else None
    return artefacts


@login_required
def target_page(request: HttpRequest, target: str, target_id: int) -> HttpResponse:
    permset = request.permset
    if not permset.is_agent:
        raise PermissionDenied(_("These pages are for the service desk's staff."))
    if not services.may_see_target(permset, target, target_id):
        raise Http404("No such target")
    found = services.target_of(target, target_id)
    if found is None:
        raise Http404("No such target")
    may_write = services.may_write(permset, target, target_id)
    form = ArtefactForm(initial={"language": request.LANGUAGE_CODE}) if may_write else None
    errors: dict[int, list[str]] = {}
    status = 200
    rows = services.visible_artefacts(permset).filter(target=target, target_id=target_id)
    if request.method == "POST":
        if not may_write:
            raise PermissionDenied(_("You may not change documents here."))
        action = request.POST.get("action", "add")
        try:
            if action == "add":
                form = ArtefactForm(request.POST, request.FILES)
                if form.is_valid():
                    data = form.cleaned_data
                    services.add(
                        actor=request.user,
                        target=target,
                        target_id=target_id,
                        kind=data["kind"],
                        title=data["title"],
                        language=data["language"],
                        upload=data["file"],
                        url=data["url"] or "",
                        publish=data["publish"],
                    )
                    messages.success(request, _("Document added."))
                    return redirect(request.path)
                status = 400
            else:
                artefact = rows.filter(pk=request.POST.get("artefact") or 0).first()
                if artefact is None:
                    raise Http404("No such document")
                if action == "version":
                    vform = VersionForm(request.POST, request.FILES)
                    if not vform.is_valid():
                        raise ValidationError(
                            [str(m) for msgs in vform.errors.values() for m in msgs]
                        )
                    services.add_version(
                        actor=request.user,
                        artefact=artefact,
                        upload=vform.cleaned_data["file"],
                        url=vform.cleaned_data["url"] or "",
                        note=vform.cleaned_data["note"],
                    )
                    messages.success(request, _("New version uploaded."))
                elif action in ("publish", "unpublish"):
                    services.set_published(
                        actor=request.user, artefact=artefact, published=action == "publish"
                    )
                    messages.success(
                        request,
                        _("Published to the customer.")
                        if action == "publish"
                        else _("No longer published."),
                    )
                else:
                    raise Http404("No such action")
                return redirect(request.path)
        except ValidationError as exc:
            if action == "add" and form is not None:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                errors[int(request.POST.get("artefact") or 0)] = exc.messages
            status = 400
    artefacts = _with_versions(rows)
    for a in artefacts:
        a.errors = errors.get(a.pk, [])
    return render(
        request,
        "artefacts/target.html",
        {
            "target": target,
            "target_label": Artefact.Target(target).label,
            "object": found[0],
            "artefacts": artefacts,
            "form": form,
            "may_write": may_write,
            "nav": "projects"
            if target in ("project", "stage")
            else "saas"
            if target == "migration"
            else "releases",
        },
        status=status,
    )


@login_required
def download(request: HttpRequest, version_id: int) -> FileResponse:
    """Every document file goes through here: 404 unless the person may see it."""
    version = (
        ArtefactVersion.objects.filter(
            pk=version_id, artefact__in=services.visible_artefacts(request.permset).values("pk")
        )
        .exclude(file="")
        .first()
    )
    if version is None:
        raise Http404("No such file")
    return stored_file_response(version.file, name=version.name, content_type=version.content_type)


@login_required
def portal_list(request: HttpRequest) -> HttpResponse:
    """A customer's published documents: of their projects and migrations, and of the
    releases of the products they run."""
    artefacts = _with_versions(
        services.visible_artefacts(request.permset).filter(is_published=True)
    )
    groups: dict[tuple, list] = defaultdict(list)
    for a in artefacts:
        found = services.target_of(a.target, a.target_id)
        label = found[2] if found else "—"
        groups[(a.get_target_display(), label)].append(a)
    return render(
        request,
        "artefacts/portal.html",
        {
            "groups": [
                {"kind": kind, "label": label, "artefacts": rows}
                for (kind, label), rows in sorted(groups.items())
            ],
            "nav": "documents",
        },
    )
