"""Django's deploy checks of the security and clickjacking settings, run for this project's subclasses.

Django finds SecurityMiddleware and XFrameOptionsMiddleware by their exact paths: for a subclass
(portal/async_middleware.py) it reports them missing (security.W001/W002, silenced in settings) and skips its
checks of their settings -- HSTS, the HTTPS redirect, nosniff, X-Frame-Options, the referrer and opener policies.
This runs Django's own check functions as if the middleware were listed by Django's paths, and reports a
missing one under its own id.
"""
from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.core.checks.security import base

AS_DJANGO = {
    "portal.async_middleware.SecurityMiddleware": "django.middleware.security.SecurityMiddleware",
    "portal.async_middleware.XFrameOptionsMiddleware": "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
SETTINGS_CHECKS = (
    base.check_sts, base.check_sts_include_subdomains, base.check_sts_preload, base.check_content_type_nosniff,
    base.check_ssl_redirect, base.check_xframe_deny, base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
)


@register(Tags.security, deploy=True)
def check_security_middleware_settings(app_configs, **kwargs):
    listed = list(settings.MIDDLEWARE)
    as_django = [AS_DJANGO.get(path, path) for path in listed]
    missing = [
        Warning(f"{django_path} (or portal.async_middleware's subclass) is not in MIDDLEWARE.", id="portal.W001")
        for django_path in AS_DJANGO.values() if django_path not in as_django
    ]
    if as_django == listed:
        return missing  # Django's own checks find them and run
    # Imported here, not at module level: this module loads in every process at start-up (portal/apps.py), and
    # django.test is only needed when `check --deploy` runs.
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=as_django):
        return missing + [message for check in SETTINGS_CHECKS for message in check(app_configs)]


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@register(Tags.security, deploy=True)
def check_broker_security(app_configs, **kwargs):
    """Whoever can reach an anonymous broker reads every chat and can forge answers, hints and outages; over a
    network without TLS, whoever is on the path can (docs/security.md, "MQTT security")."""
    mqtt, found = settings.MQTT, []
    if not mqtt["USERNAME"]:
        found.append(Warning(
            "MQTT_USERNAME is empty: the worker connects to the broker anonymously.",
            hint="Give the broker passwords and the ACL in deploy/mosquitto/ (no anonymous clients) and set "
                 "MQTT_USERNAME and MQTT_PASSWORD.", id="portal.W010"))
    if not mqtt["TLS"] and mqtt["BROKER_HOST"] not in LOOPBACK:
        found.append(Warning(
            f"MQTT_TLS is off but the broker ({mqtt['BROKER_HOST']}) is not on this machine.",
            hint="Use deploy/mosquitto/mosquitto-tls.conf and set MQTT_TLS=true.", id="portal.W011"))
    return found
