from django.urls import include, path

from . import views

page_urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("profile/", views.account_page, name="account"),
    path("profile/delete/", views.account_delete_page, name="account-delete"),
    path("profile/tokens/<int:token_id>/revoke/", views.token_revoke_page, name="api-token-revoke-page"),
    path("password_reset/", views.ThrottledPasswordResetView.as_view(), name="password_reset"),
    # login, logout, password_change(_done), password_reset(_done), reset/<uidb64>/<token>/, reset/done/
    path("", include("django.contrib.auth.urls")),
]

api_urlpatterns = [
    path("", views.api_tokens, name="api-tokens"),
    path("<int:token_id>", views.api_token, name="api-token"),
]
