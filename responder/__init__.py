"""Prompt Portal's reference LLM service, run as ``python -m responder``.

It speaks the MQTT protocol of /work/shared/PROTOCOL.md as the deployed LLM service does: chat requests are
answered with raw text on their reply topic, maze states with a JSON hint on ``maze/hint/<sessionId>``. Beyond the
deployed service it streams (docs/protocol.md): a chat request with ``"stream": true`` and a valid replyTopic of
its own gets its answer in chunks ``{"requestId", "seq", "delta"}`` on ``<replyTopic>/stream`` (QoS 0), then the
whole answer on replyTopic (QoS 1) as always; a cancel ``{"requestId", "sessionId", "clientId"}`` on
MQTT_TOPIC_CANCEL stops a streamed answer (no final reply; the part streamed so far goes into the session's memory).
Answers come from an OpenAI-compatible ``/chat/completions`` endpoint (through the ``openai`` client), or, without
LLM_BASE_URL, from a built-in offline mode (a labelled echo for chat, a shortest-path hint for the maze) so the
platform works out of the box. It imports no Django: only the standard library, paho-mqtt and, in LLM mode, openai.

Configuration: every flag defaults from an environment variable (``python -m responder --help``).

=================================  =================================  =====================================
flag                               environment variable               default
=================================  =================================  =====================================
--broker-host                      MQTT_BROKER_HOST                   127.0.0.1
--broker-port                      MQTT_BROKER_PORT                   1883
--username / --password            MQTT_USERNAME / MQTT_PASSWORD      unset (RESPONDER_MQTT_* first, below)
--tls                              MQTT_TLS                           false
--tls-ca-file                      MQTT_TLS_CA_FILE                   empty = the system's CAs
--tls-cert-file / --tls-key-file   MQTT_TLS_CERT_FILE / ..._KEY_FILE  unset (RESPONDER_MQTT_* first, below)
--topic-user-input                 MQTT_TOPIC_USER_INPUT              prompt_portal/user_input
--topic-assistant-response         MQTT_TOPIC_ASSISTANT_RESPONSE      prompt_portal/assistant_response
--topic-state                      MQTT_TOPIC_STATE                   maze/state
--topic-hint                       MQTT_TOPIC_HINT                    maze/hint/+ (hint base: maze/hint)
--topic-template                   MQTT_TOPIC_TEMPLATE                maze/template
--topic-cancel                     MQTT_TOPIC_CANCEL                  prompt_portal/cancel (portal's too)
--client-id                        RESPONDER_CLIENT_ID                llm_responder
--projects                         RESPONDER_PROJECTS                 "maze prompt_portal"
--status-topic                     RESPONDER_STATUS_TOPIC             <first project>/status
--status-interval                  RESPONDER_STATUS_INTERVAL          30 (seconds)
--delay                            RESPONDER_DELAY                    0 (seconds before each reply)
--stream-rate                      RESPONDER_STREAM_RATE              30 (offline tokens/s; 0 = no chunks)
--llm-base-url                     LLM_BASE_URL                       empty = offline mode
--llm-api-key                      LLM_API_KEY                        empty
--llm-model                        LLM_MODEL                          default
--llm-timeout                      LLM_TIMEOUT                        60 (seconds to connect, and per read)
--llm-max-retries                  LLM_MAX_RETRIES                    2 (before an answer starts)
--history-turns                    RESPONDER_HISTORY_TURNS            6
--max-concurrency                  RESPONDER_MAX_CONCURRENCY          16 (parallel LLM calls)
--log-level                        LOG_LEVEL                          INFO
=================================  =================================  =====================================

The broker identity has responder-only variables that win over the shared ones: RESPONDER_MQTT_USERNAME,
RESPONDER_MQTT_PASSWORD, RESPONDER_MQTT_TLS_CERT_FILE, RESPONDER_MQTT_TLS_KEY_FILE. With them the responder and the
worker can share one environment file and still log in as the two users of deploy/mosquitto/acl. With MQTT_TLS the
broker's certificate and host name are always verified; there is no switch to turn that off.

RESPONDER_PROJECTS names the projects served: ``prompt_portal`` (chat requests) and ``maze`` (states, templates,
clear_history and delete_session, which both forget a session); the first names the status topic. The client id
must be unique among running responders: two with the same id take the broker session from each other.

Memory: per (project, sessionId), at most 10,000 sessions (least recently used dropped) and RESPONDER_HISTORY_TURNS
turns each; a session's system prompt is taken when the session is first seen, and a maze template update replaces
it. Maze hints from the LLM use the session's template but no turns (each state is complete on its own). When
saturated, chat requests get the overloaded reply and maze states the offline hint.

LLM mode streams as the model writes (deltas that arrive within 20 ms of the last chunk go out as one chunk); a
failure part-way ends the stream with the final reply ``Error: <reason>``. A session's memory gets a turn for a
complete answer, or for the part streamed before a cancel.

Offline replies (no LLM_BASE_URL):
- chat: ``[offline] You said: <message>`` (first 500 characters). Test hooks: a message starting with ``!error``
  gets ``Error: simulated model failure``, ``!overload`` gets ``Server is overloaded. Please try again in a
  moment.``, ``!sleep <s>`` is answered normally after <s> seconds (at most 120), ``!noreply`` is never answered.
- chat, streamed: one chunk per word-ish token, RESPONDER_STREAM_RATE a second, after RESPONDER_DELAY (and any
  ``!sleep``); the final reply right after the last chunk. Stream hooks (a message's first word; the echo still
  quotes the whole message; without streaming they are plain echoes): ``!stall <s>`` pauses <s> seconds after
  half the chunks; ``!partial`` stops after half the chunks and never sends the final reply; ``!streamfail``
  stops after half and replies ``Error: simulated model failure mid-stream``; ``!dupchunks`` sends every chunk
  twice; ``!shufflechunks`` swaps each adjacent pair (seq 1, 0, 3, 2, ...); ``!dropchunks`` never sends seq 2, 5,
  8, ... (the final reply is whole).
- maze: ``{"hint": "Head east 3, then north 2.", "path": [[x, y], ...], "show_path": true, "suggestion": ...}``
  from a breadth-first search that keeps clear of germs where it can; without a visible route, a ``hint`` to
  explore and no ``path``.
"""
