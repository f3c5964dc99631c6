"""`python manage.py run_mqtt_worker`: holds the one MQTT connection (see portal/mqtt/engine.py)."""

import asyncio
import logging
import signal

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from portal import event_loop
from portal.db import DbThread
from portal.mqtt.engine import EngineConfig, EngineHooks, WorkerEngine
from portal.mqtt.identity import ClientIdLease
from portal.mqtt.shared_state import redis_client

log = logging.getLogger("portal.mqtt.worker")


class Command(BaseCommand):
    help = "Run the MQTT worker: publish what the web side asks for and relay replies back to it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--client-id",
            help="Use exactly this MQTT client id (default: claim the lowest free <MQTT_CLIENT_ID>_w<N>).",
        )

    def handle(self, *args, **options):
        exit_code = event_loop.run(self._serve(options.get("client_id")))
        if exit_code:
            raise SystemExit(exit_code)

    async def _serve(self, fixed_client_id: str | None) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # The handler only sets a flag; the engine finishes its work and exits cleanly.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        redis = redis_client(settings.REDIS_URL)
        lease = ClientIdLease(redis, ttl=max(3 * settings.WORKER["HEARTBEAT_INTERVAL"], 10.0))
        client_id = await self._claim_id(lease, fixed_client_id, stop)
        if client_id is None:
            return 0
        log.info("worker starting as %s", client_id)
        worker = settings.WORKER
        db = DbThread()
        engine = WorkerEngine(
            config=EngineConfig(
                mqtt=settings.MQTT,
                heartbeat_interval=worker["HEARTBEAT_INTERVAL"],
                pending_max=worker["PENDING_MAX"],
                pending_max_age=worker["PENDING_MAX_AGE"],
                session_queue_max=worker["SESSION_QUEUE_MAX"],
                breaker_threshold=worker["BREAKER_THRESHOLD"],
                breaker_cooldown=worker["BREAKER_COOLDOWN"],
                llm_status_timeout=worker["LLM_STATUS_TIMEOUT"],
                stream=settings.CHAT_STREAM,
                stream_flush_interval=settings.CHAT_STREAM_FLUSH_INTERVAL,
                stream_idle_timeout=settings.CHAT_STREAM_IDLE_TIMEOUT,
            ),
            hooks=EngineHooks(**{name: import_string(path) for name, path in worker["HOOKS"].items()}),
            client_id=client_id,
            channel_layer=get_channel_layer(),
            redis=redis,
            lease=lease,
            run_sync=db.run,
        )
        # Feature work that lives beside the link (template evaluations): it stops with the engine.
        background_stop = asyncio.Event()
        background = [
            asyncio.create_task(import_string(path)(background_stop, worker_id=client_id), name=path)
            for path in worker["BACKGROUND"]
        ]
        try:
            return await engine.run(stop)
        finally:
            background_stop.set()
            await asyncio.gather(*background, return_exceptions=True)
            await asyncio.to_thread(db.close)

    async def _claim_id(self, lease: ClientIdLease, fixed: str | None, stop: asyncio.Event) -> str | None:
        """Redis may still be starting: keep trying until it answers or we are told to stop."""
        while not stop.is_set():
            try:
                return await lease.claim(fixed or settings.MQTT["CLIENT_ID"], fixed=bool(fixed))
            except (OSError, RedisError) as exc:
                log.warning("waiting for Redis to claim a client id: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
        return None
