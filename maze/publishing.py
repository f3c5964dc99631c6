"""What the maze sends to the LLM service, through the worker (never paho from here)."""

from channels.layers import get_channel_layer
from django.conf import settings

from portal.mqtt import contract, gateway
from portal.mqtt.topics import session_topic

from . import protocol


async def publish_template(*, session_key: str, template: dict | None) -> bool:
    """Point this game's LLM session at the template (QoS 1, reset), on `maze/template/<sessionId>` only:
    the form without a session would reset every player's session (the earlier platform's bug)."""
    if template is None:
        return True
    return await gateway.publish(
        topic=session_topic(settings.MQTT["TOPIC_TEMPLATE"], session_key),
        payload=protocol.template_payload(session_key=session_key, template=template),
        qos=1,
    )


async def publish_state(payload: dict) -> bool:
    """Game state is frequent and losing one is harmless: QoS 0."""
    return await gateway.publish(topic=settings.MQTT["TOPIC_STATE"], payload=payload, qos=0)


async def announce_template(*, session_key: str, summary: dict | None, template: dict | None) -> None:
    """Tell the game's open sockets which template their next state messages must embed."""
    await get_channel_layer().group_send(
        contract.hint_group(session_key), {"type": "template.published", "template": summary, "llm_template": template}
    )
