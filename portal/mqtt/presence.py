"""Is the LLM service there? Presence per instance, from its status messages (pure; time is passed in).

Several LLM service instances may serve one broker; each announces `{"service": <its id>, "status": "online",
"ts": ...}` on connect and every 30 s, and leaves `{"status": "offline"}` as its last will. The LLM counts as
online while ANY instance is: one instance's will must not turn chat away while another still serves.

How an instance stops counting:
- its offline status (its will when it vanished, or its own goodbye when it stopped cleanly);
- silence: no status from it for `timeout` seconds (an instance that stopped cleanly without saying so, or one
  whose heartbeats no longer arrive). Timeouts of chat requests open the circuit breaker meanwhile (engine).

What is not believed:
- an offline status from a service never seen online: it cannot take the LLM offline on its own (anyone who can
  publish on the status topic could otherwise switch chat off);
- a retained status older than what this connection has already heard from that service (the broker replays the
  retained message at every subscribe), and a retained "online" whose `ts` is older than `timeout` (the last
  heartbeat of an instance that is long gone).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Instance:
    online: bool
    last_seen: float  # wall clock of its last believed status (a retained message's own ts when it has one)
    heard_live_at: float | None = None  # wall clock when a non-retained status arrived


class LlmPresence:
    def __init__(self, timeout: float, started_at: float):
        self.timeout = timeout
        self.started_at = started_at
        self.instances: dict[str, Instance] = {}
        self.ignored = 0  # status messages not believed (see the module docstring)

    def update(
        self, *, service: str, online: bool, ts: float | None, retained: bool, now: float, connected_since: float | None
    ) -> bool:
        """Take one status message in; True when it was believed."""
        known = self.instances.get(service)
        if (
            retained
            and known is not None
            and known.heard_live_at is not None
            and connected_since is not None
            and known.heard_live_at >= connected_since
        ):
            self.ignored += 1  # the broker replaying an old message: this connection knows better
            return False
        if not online and known is None:
            self.ignored += 1  # an offline from a service never seen online
            return False
        seen = now
        if retained and ts is not None:
            seen = min(now, ts)  # a retained heartbeat is as old as its ts says, not as old as its delivery
        instance = self.instances.setdefault(service, Instance(online, seen))
        instance.online, instance.last_seen = online, seen
        if not retained:
            instance.heard_live_at = now
        return True

    def online(self, now: float) -> bool | None:
        """True: some instance is online and was heard from recently; False: none is; None: not known yet (no
        instance heard from since the worker started, for less than `timeout`)."""
        if any(i.online and now - i.last_seen <= self.timeout for i in self.instances.values()):
            return True
        if self.instances or now - self.started_at >= self.timeout:
            return False
        return None

    def snapshot(self, now: float) -> dict:
        fresh = {name: i for name, i in self.instances.items() if i.online and now - i.last_seen <= self.timeout}
        last_seen = max((i.last_seen for i in self.instances.values()), default=None)
        return {
            "online": self.online(now),
            "service": next(iter(sorted(fresh)), next(iter(sorted(self.instances)), "")),
            "last_seen": last_seen,
            "instances": {
                name: {"online": name in fresh, "last_seen": i.last_seen} for name, i in sorted(self.instances.items())
            },
            "ignored": self.ignored,
        }
