from django.contrib.auth import views as auth_views
from django.urls import path

from aftercare.accounts import privacy_views, twofactor_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/email/", views.email_change, name="email-change"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email-confirm"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("language/", views.set_language, name="language"),
    path("2fa/", twofactor_views.manage, name="2fa"),
    path("2fa/verify/", twofactor_views.verify, name="2fa-verify"),
    path("privacy/<int:user_id>/export/", privacy_views.export, name="contact-export"),
    path("privacy/anonymise/", privacy_views.anonymise, name="contact-anonymise"),
]
