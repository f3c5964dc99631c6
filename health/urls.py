from django.urls import path

from . import views

urlpatterns = [
    path("api/health/", views.health, name="health"),
    path("api/health/mqtt", views.health_mqtt, name="health-mqtt"),
    path("metrics", views.prometheus_metrics, name="metrics"),
    path("status/", views.status_page, name="status"),
]
