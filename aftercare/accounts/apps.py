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
        # /admin/login/ is the throttled sign-in with its 2FA step, not Django's own form.
        admin.site.login = admin_login
        admin.site.has_permission = _admin_permission(admin.site.has_permission)


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
