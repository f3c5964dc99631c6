"""The worker's evaluation runner (settings.WORKER["BACKGROUND"]): plays queued template evaluations.

Each worker process runs one `run()` beside its MQTT link. It claims queued evaluations (at most MAX_RUNNING over
all workers, counted under a Redis lock so two workers cannot both take the last place), and plays each one's games
in turn: the autopilot (maze/autopilot.py) on a virtual clock, every hint asked of the live LLM through the worker
exactly as a template try asks (maze/trial.py), one request in flight per evaluation and HINT_INTERVAL between two.

Stopping: on the worker's stop the games being played are dropped and their evaluations go back to the queue (the
finished games are kept); a worker killed outright stops its heartbeat, and any runner requeues its evaluations
after STALE_AFTER (maze/evaluations.py). So an evaluation is never left "running" with nobody playing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from django.conf import settings
from redis.exceptions import LockError, RedisError

from portal.db import run_db
from portal.mqtt import contract
from portal.mqtt.shared_state import redis_client
from portal.mqtt.topics import hint_base

from . import autopilot, engine, evaluations, protocol, trial
from .models import Evaluation
from .services import PELLETS_PER_GAME

log = logging.getLogger("maze.evaluation")

CLAIM_LOCK = "prompt_portal:evaluations:claim"
MISSES_IN_A_ROW = 3  # hints without an answer, one after another, that end a game
OFFLINE_RETRIES = 10  # a 503 (no worker, LLM offline) is retried this many times, a second apart, before failing


class LlmOffline(Exception):
    """The hint service stayed unavailable: the evaluation fails with this message."""


async def run(stop: asyncio.Event, *, worker_id: str) -> None:
    """Claim and play evaluations until `stop` is set."""
    limits = settings.MAZE_EVALUATION
    # A worker restarted after a kill takes over its client id; its runner name must still differ, or its heartbeat
    # would keep the dead process's evaluations "running".
    worker_id = f"{worker_id}/{secrets.token_hex(4)}"
    redis = redis_client(settings.REDIS_URL)
    playing: dict[int, asyncio.Task] = {}
    try:
        while not stop.is_set():
            for evaluation_id, task in list(playing.items()):
                if task.done():
                    del playing[evaluation_id]
            try:
                # Each poll reads; it writes only when there is something to write (an idle worker takes no lock).
                if playing:
                    await run_db(evaluations.heartbeat, runner=worker_id)
                await run_db(evaluations.requeue_stale)
                if len(playing) < limits["MAX_RUNNING"] and await run_db(evaluations.any_queued):
                    job = await _claim(redis, worker_id)
                    if job is not None:
                        log.info("evaluation %s claimed by %s", job["id"], worker_id)
                        playing[job["id"]] = asyncio.create_task(_play_evaluation(job, worker_id))
            except Exception as exc:  # noqa: BLE001 - the database or Redis away: try again at the next poll
                log.warning("evaluation runner: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), limits["POLL_INTERVAL"])
    finally:
        for task in playing.values():
            task.cancel()
        await asyncio.gather(*playing.values(), return_exceptions=True)
        # The Redis client is the process's shared one (shared_state.redis_client): not ours to close.


async def _claim(redis, worker_id: str) -> dict | None:
    try:
        async with redis.lock(CLAIM_LOCK, timeout=10, blocking_timeout=2):
            return await run_db(evaluations.claim_next, runner=worker_id)
    except (LockError, RedisError) as exc:
        log.debug("evaluation claim skipped: %s", exc)
        return None


async def _play_evaluation(job: dict, runner: str) -> None:
    evaluation_id = job["id"]
    try:
        for index, seed in job["games"]:
            result = await _play_game(job, index=index, seed=seed, runner=runner)
            if result is None:  # cancelled, or no longer ours
                await _finish(evaluation_id, runner, Evaluation.Status.CANCELLED, "Cancelled; finished games are kept.")
                return
            if not result["answered"]:
                await _finish(
                    evaluation_id,
                    runner,
                    Evaluation.Status.FAILED,
                    f"The LLM answered none of game {index + 1}'s hint requests; stopped there.",
                )
                return
            if not await run_db(
                evaluations.record_game,
                evaluation_id=evaluation_id,
                runner=runner,
                index=index,
                seed=seed,
                result=result,
            ):
                return
        await _finish(evaluation_id, runner, Evaluation.Status.DONE)
    except LlmOffline as exc:
        await _finish(evaluation_id, runner, Evaluation.Status.FAILED, str(exc))
    except asyncio.CancelledError:
        # The worker is stopping: another claim (here after a restart, or another worker) plays what is left.
        await asyncio.shield(run_db(evaluations.release, evaluation_id, runner=runner))
        raise
    except Exception:
        log.exception("evaluation %s failed", evaluation_id)
        await _finish(evaluation_id, runner, Evaluation.Status.FAILED, "An internal error stopped this evaluation.")


async def _finish(evaluation_id: int, runner: str, status: str, detail: str = "") -> None:
    log.info("evaluation %s ended: %s %s", evaluation_id, status, detail)
    await run_db(evaluations.finish, evaluation_id=evaluation_id, runner=runner, status=status, detail=detail)


async def _play_game(job: dict, *, index: int, seed: int, runner: str) -> dict | None:
    """One autopilot game with hints from the LLM; its result, or None when the evaluation is no longer wanted."""
    limits = settings.MAZE_EVALUATION
    maze = engine.generate(
        job["width"], job["height"], germ_count=job["germ_count"], pellet_count=PELLETS_PER_GAME, seed=seed
    )
    game = autopilot.AutopilotGame(maze, seed=seed)
    session_key = trial.new_eval_key()  # its own conversation with the model, as a real game has
    base = hint_base(settings.MQTT["TOPIC_HINT"])
    asked = answered = misses = 0
    last_sent = 0.0
    while game.playing:
        if asked >= limits["MAX_HINTS_PER_GAME"]:
            game.give_up(f"Used all {asked} hints without reaching the exit.")
            break
        if not await run_db(evaluations.still_wanted, evaluation_id=job["id"], runner=runner):
            return None
        # The LLM service is shared with the players: one request in flight, and a pause between two.
        if (pause := last_sent + limits["HINT_INTERVAL"] - time.monotonic()) > 0:
            await asyncio.sleep(pause)
        state = protocol.state_payload(
            session_key=session_key,
            state=game.browser_state(),
            width=maze.width,
            height=maze.height,
            template=job["prompt"],
            hint_base=base,
        )
        last_sent = time.monotonic()
        outcome = await _ask(state, timeout=limits["HINT_TIMEOUT"])
        asked += 1
        if outcome.hint is None:  # no answer in time: the game went on meanwhile
            game.wait(limits["HINT_TIMEOUT"] * 1000)
            game.hint_missing(reason=outcome.detail, latency_ms=None)
            misses += 1
            if misses >= MISSES_IN_A_ROW and game.playing:
                game.give_up(f"The LLM did not answer {misses} hint requests in a row.")
        else:
            misses = 0
            answered += 1
            game.wait(outcome.latency_ms or 0)
            game.apply_hint(outcome.hint, latency_ms=outcome.latency_ms)
        await run_db(evaluations.record_progress, evaluation_id=job["id"], runner=runner, game=index, hints=asked)
        game.run_until_idle()
    return game.result() | {"session_id": session_key, "answered": answered}


async def _ask(state: dict, *, timeout: float) -> trial.Outcome:
    """A hint, or a timeout outcome; LlmOffline when the hint service stays unavailable."""
    for _ in range(OFFLINE_RETRIES):
        outcome = await trial.ask(state=state, timeout=timeout)
        if outcome.code != contract.ERROR_UNAVAILABLE:
            return outcome
        await asyncio.sleep(1.0)  # a reconnect in progress; the worker reconnects within a second
    raise LlmOffline(f"The hint service stayed unavailable: {outcome.detail} The games finished so far are kept.")
