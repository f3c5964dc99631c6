from django.urls import path

from . import views

page_urlpatterns = [
    path("", views.template_list, name="prompt-templates"),
    path("new/", views.template_new, name="prompt-template-new"),
    path("<int:template_id>/", views.template_detail, name="prompt-template"),
    path("<int:template_id>/edit/", views.template_edit, name="prompt-template-edit"),
    path("<int:template_id>/delete/", views.template_delete, name="prompt-template-delete"),
]

api_urlpatterns = [
    path("", views.api_templates, name="api-templates"),
    path("<int:template_id>", views.api_template, name="api-template"),
]
