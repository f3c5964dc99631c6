"""Django's deploy checks (`manage.py check --deploy`) for what Django cannot know: how the broker is reached."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@register(Tags.security, deploy=True)
def check_broker_security(app_configs, **kwargs):
    """Whoever can reach an anonymous broker reads every chat and can forge answers, hints and outages; over a
    network without TLS, whoever is on the path can (docs/security.md, "MQTT security")."""
    mqtt, found = settings.MQTT, []
    if not mqtt["USERNAME"]:
        found.append(
            Warning(
                "MQTT_USERNAME is empty: the worker connects to the broker anonymously.",
                hint="Give the broker passwords and the ACL in deploy/mosquitto/ (no anonymous clients) and set "
                "MQTT_USERNAME and MQTT_PASSWORD.",
                id="portal.W010",
            )
        )
    if not mqtt["TLS"] and mqtt["BROKER_HOST"] not in LOOPBACK:
        found.append(
            Warning(
                f"MQTT_TLS is off but the broker ({mqtt['BROKER_HOST']}) is not on this machine.",
                hint="Use deploy/mosquitto/mosquitto-tls.conf and set MQTT_TLS=true.",
                id="portal.W011",
            )
        )
    return found
