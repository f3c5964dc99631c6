from django.urls import path

from . import views

page_urlpatterns = [
    path("", views.template_list, name="prompt-templates"),
    path("new/", views.template_new, name="prompt-template-new"),
    path("<int:template_id>/", views.template_detail, name="prompt-template"),
    path("<int:template_id>/edit/", views.template_edit, name="prompt-template-edit"),
    path("<int:template_id>/delete/", views.template_delete, name="prompt-template-delete"),
    path("<int:template_id>/history/", views.template_history, name="prompt-template-history"),
    path("<int:template_id>/history/<int:version>/", views.template_version_page, name="prompt-template-version"),
    path(
        "<int:template_id>/history/<int:version>/restore/",
        views.template_version_restore,
        name="prompt-template-restore",
    ),
]

api_urlpatterns = [
    path("", views.api_templates, name="api-templates"),
    path("<int:template_id>", views.api_template, name="api-template"),
    path("<int:template_id>/versions", views.api_template_versions, name="api-template-versions"),
    path("<int:template_id>/try", views.api_template_try, name="api-template-try"),
    path("<int:template_id>/versions/<int:version>", views.api_template_version, name="api-template-version"),
    path(
        "<int:template_id>/versions/<int:version>/restore",
        views.api_template_version_restore,
        name="api-template-restore",
    ),
]
