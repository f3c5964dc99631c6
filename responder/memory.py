"""Conversation memory per (project, sessionId), bounded in sessions (least recently used go first) and turns.

As in the deployed service, a session's system prompt is taken only when the session is first seen; the maze
template topic is the one way to change it afterwards.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

DEFAULT_MAX_SESSIONS = 10_000


@dataclass
class _Session:
    system_prompt: str | None
    turns: deque = field(default_factory=deque)


@dataclass(frozen=True)
class Snapshot:
    system_prompt: str | None
    turns: tuple[tuple[str, str], ...]  # (user, assistant), oldest first


class SessionMemory:
    """Thread-safe: the MQTT thread and the LLM pool use it at once."""

    def __init__(self, history_turns: int, max_sessions: int = DEFAULT_MAX_SESSIONS):
        self.history_turns = history_turns
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._project_prompts: dict[str, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _get_or_create(self, project: str, session_id: str, system_prompt: str | None) -> _Session:
        key = (project, session_id)
        session = self._sessions.get(key)
        if session is None:
            prompt = system_prompt if system_prompt is not None else self._project_prompts.get(project)
            session = self._sessions[key] = _Session(prompt, deque(maxlen=self.history_turns))
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        return session

    def open(self, project: str, session_id: str, system_prompt: str | None = None) -> Snapshot:
        """The session's prompt and turns; `system_prompt` is used only if the session is new."""
        with self._lock:
            session = self._get_or_create(project, session_id, system_prompt)
            return Snapshot(session.system_prompt, tuple(session.turns))

    def add_turn(self, project: str, session_id: str, user: str, assistant: str) -> None:
        with self._lock:
            self._get_or_create(project, session_id, None).turns.append((user, assistant))

    def set_system_prompt(self, project: str, session_id: str, prompt: str | None, reset: bool) -> None:
        """A template update for one session: a new prompt (None keeps the old one), history cleared on reset."""
        with self._lock:
            session = self._get_or_create(project, session_id, prompt)
            if prompt is not None:
                session.system_prompt = prompt
            if reset:
                session.turns.clear()

    def set_project_prompt(self, project: str, prompt: str | None, reset: bool) -> None:
        """A template update without a session: applies to every session of the project and to new ones."""
        with self._lock:
            if prompt is not None:
                self._project_prompts[project] = prompt
            for (owner, _), session in self._sessions.items():
                if owner != project:
                    continue
                if prompt is not None:
                    session.system_prompt = prompt
                if reset:
                    session.turns.clear()

    def delete(self, project: str, session_id: str | None) -> int:
        """Forget one session entirely, or every session of the project when None."""
        with self._lock:
            if session_id is not None:
                return 1 if self._sessions.pop((project, session_id), None) is not None else 0
            keys = [key for key in self._sessions if key[0] == project]
            for key in keys:
                del self._sessions[key]
            return len(keys)
