from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "aftercare.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib import admin

        from aftercare.accounts import twofactor  # noqa: F401 - connects its signal
        from aftercare.accounts.roles import sync_role_groups
        from aftercare.accounts.views import admin_login

        post_migrate.connect(sync_role_groups, dispatch_uid="aftercare.sync_role_groups")
        _forget_permsets_on_change()
        # /admin/login/ is the throttled sign-in with its 2FA step, not Django's own form.
        admin.site.login = admin_login
        admin.site.has_permission = _admin_permission(admin.site.has_permission)


def _forget_permsets_on_change() -> None:
    """A change to who may do what forgets the request's shared permission sets."""
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from aftercare.accounts.models import User
    from aftercare.accounts.roles import forget_permsets
    from aftercare.tenancy.models import AgentRestriction, Membership, Organisation

    for model in (User, Group, Membership, AgentRestriction, Organisation):
        uid = f"aftercare.forget_permsets.{model._meta.label_lower}"
        post_save.connect(forget_permsets, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(forget_permsets, sender=model, dispatch_uid=f"{uid}.delete")
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            forget_permsets, sender=through, dispatch_uid=f"aftercare.forget_permsets.{through}"
        )


def _admin_permission(original):
    """The Django admin shows rows of every organisation that are not tenant-scoped
    (people, mailboxes, webhooks: a global webhook receives every organisation's events),
    so an agent restricted to some customers never uses it, whatever their flags."""

    def has_permission(request) -> bool:
        if not original(request):
            return False
        permset = getattr(request, "permset", None)
        if permset is None:
            from aftercare.accounts.roles import PermSet

            permset = PermSet(request.user)
        return not (permset.is_agent and permset.agent_restricted_to is not None)

    return has_permission
