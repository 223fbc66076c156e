"""Local Slack: an incoming-webhook receiver and the Web API's chat.postMessage / chat.update.

Why: tests must see exactly what the Lambda would post to Slack, and must be
able to make Slack misbehave (429 with Retry-After, 5xx, slow answers, dropped
connections) without a real workspace.

Webhook: any POST to a path not under /_control, /api/ or /actions/ is a webhook delivery, e.g.
``/services/T000/B000/XXXX``. Scripted responses (``POST /_control/script``)
are consumed first, one per attempt; when none are left the payload is checked
the way Slack checks it and answered ``200 ok`` or ``400 invalid_payload`` /
``400 invalid_blocks``. ``GET /_control/received`` and ``/_control/attempts`` list
what arrived.

Web API (slack_web.py): with a bot token the alerter posts a parent message per alert, replies
in its thread and edits the parent, so tests need the channel's final state, not a list of
payloads. ``POST /api/chat.postMessage`` and ``/api/chat.update`` (JSON body, ``Authorization:
Bearer <token>``) answer like Slack (``{"ok": true, ...}`` or ``{"ok": false, "error": code}``,
429 ``ratelimited`` with ``Retry-After``, 404 ``unknown_method``) against a small workspace:
tokens, channels (member or not), an opt-in per-channel rate limit on chat.postMessage, and
the messages posted so far. Control endpoints, JSON:

- ``POST /_control/web/setup`` ``{"tokens": [...], "channels": {id: {"member": bool}},
  "post_limit": {"per_second": R, "burst": B} | null}``: a new workspace (clears messages,
  calls, scripts, revocations). Default: ``xoxb-local-test-token``, ``C0ALERTS01`` (member), no limit.
- ``POST /_control/web/script`` ``{"method": "chat.postMessage" | "chat.update" | "*",
  "responses": [{"error": code, "retry_after": s} | {"status": n, "body": ..., "headers": {}}
  | {"close": true, "apply": bool} | {"delay_ms": n} ...]}``: one entry per call, before normal handling.
- ``POST /_control/web/delete`` ``{"channel", "ts"}`` (a person deletes it) and
  ``POST /_control/web/revoke`` ``{"token"}``.
- ``GET /_control/web/channel?id=C`` (parents with nested replies), ``GET /_control/web/calls``
  (every call in arrival order), ``GET /_control/web/render?channel=C`` (text/plain, as read in Slack).

Response URLs (slack_web.py): ``POST /actions/<id>`` is a post to an interaction's
``response_url``: recorded (``GET /_control/responses``), answered ``{"ok": true}`` or as scripted
(``POST /_control/responses/script`` ``{"responses": [{"status": n, "body": ...} | {"delay_ms": n}]}``),
and with ``replace_original`` / ``delete_original`` applied to the message registered for that id
(``POST /_control/responses/register`` ``{"id", "channel", "ts"}``).

``POST /_control/reset`` resets all of it. Details: devstack/README.md.

Usage: python3 devstack/slack.py --port 0   # prints "READY <port>"
"""

import json
import threading
import time

from _httpbase import Handler, serve
from slack_web import ACTIONS, WebApiMixin, WebState

TEXT = "text/plain; charset=utf-8"
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
RESPONSE_KEYS = {"status", "headers", "body", "body_bytes", "delay_ms", "close"}


def block_text(block):
    """The text.text string of a block, or "" when absent."""
    text = block.get("text")
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        return text["text"]
    return ""


def validate(payload):
    """Return None when Slack would accept the payload, else the error body."""
    if not isinstance(payload, dict) or ("text" not in payload and "blocks" not in payload):
        return "invalid_payload"
    if "blocks" not in payload:
        return None
    blocks = payload["blocks"]
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict):
            return "invalid_blocks"
        kind = block.get("type")
        # len() counts Python str characters (code points), as the contract says.
        if kind == "section":
            if len(block_text(block)) > MAX_SECTION_TEXT:
                return "invalid_blocks"
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                return "invalid_blocks"
            for field in fields:
                if not isinstance(field, dict) or len(str(field.get("text", ""))) > MAX_FIELD_TEXT:
                    return "invalid_blocks"
        elif kind == "header":
            if len(block_text(block)) > MAX_HEADER_TEXT:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements", [])
            if not isinstance(elements, list) or len(elements) > MAX_CONTEXT_ELEMENTS:
                return "invalid_blocks"
    return None


def parse_responses(raw):
    """Validate the scripted response queue; strict so test typos fail loudly."""
    if not isinstance(raw, dict) or not isinstance(raw.get("responses", []), list):
        raise ValueError('script must be {"responses": [...]}')
    queue = []
    for i, item in enumerate(raw.get("responses", [])):
        if not isinstance(item, dict):
            raise ValueError(f"responses[{i}] must be an object")
        unknown = sorted(set(item) - RESPONSE_KEYS)
        if unknown:
            raise ValueError(f"responses[{i}]: unknown keys {unknown}")
        if "status" in item and not isinstance(item["status"], int):
            raise ValueError(f"responses[{i}].status must be an integer")
        if not isinstance(item.get("headers", {}), dict):
            raise ValueError(f"responses[{i}].headers must be an object")
        queue.append(item)
    return queue


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.web = WebState(validate)
        self.reset()

    def reset(self):
        with self.lock:
            self.responses = []
            self.received = []
            self.attempts = []
        self.web.reset()


class SlackHandler(WebApiMixin, Handler):
    tag = "slack"

    def serve(self, state, path):
        if path.startswith("/api/"):
            return self.serve_web(state.web, path)
        if path.startswith(ACTIONS):
            return self.serve_response_url(state.web, path)
        raw = self.read_body()
        if self.command != "POST":
            return self.send_bytes(405, b"invalid_method", TEXT)
        self.deliver(state, raw)

    def deliver(self, state, raw):
        # The attempt is recorded on arrival, so a test sees a request Slack is still "thinking
        # about" (a stalled answer) as received; its status is filled in when it is answered.
        attempt = {
            "path": self.path,
            "status": None,
            "at": time.time(),
            "referer": self.headers.get("Referer"),
        }
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
            parsed = False
        else:
            parsed = True
        with state.lock:
            state.attempts.append(attempt)
            scripted = state.responses.pop(0) if state.responses else None

        if scripted and scripted.get("delay_ms"):
            time.sleep(scripted["delay_ms"] / 1000.0)

        if scripted and scripted.get("close"):
            # Drop the connection without a response (simulates a network cut).
            self.close_connection = True
            self.log_message("%s %s -> closed without answer", self.command, self.path)
            with state.lock:
                attempt["closed"] = True
            return

        headers = {}
        if scripted and "status" in scripted:
            status = scripted["status"]
            headers = scripted.get("headers", {})
            body = scripted.get("body", "ok" if status == 200 else "")
            if scripted.get("body_bytes"):
                body = "x" * int(scripted["body_bytes"])
        else:
            # No script (or a delay-only entry): behave like Slack.
            error = validate(payload) if parsed else "invalid_payload"
            status, body = (400, error) if error else (200, "ok")

        with state.lock:
            attempt["status"] = status
            if status == 200:
                # Keep the raw text if a scripted 200 accepted a non-JSON body.
                state.received.append(
                    {"path": self.path, "payload": payload if parsed else raw.decode("utf-8", "replace")}
                )
        self.send_bytes(status, str(body).encode("utf-8"), TEXT, headers)

    def control(self, state, path):
        if path.startswith("/_control/web/"):
            return self.control_web(state.web, path)
        if path == "/_control/responses" or path.startswith("/_control/responses/"):
            return self.control_responses(state.web, path)
        if self.command == "POST" and path == "/_control/script":
            try:
                queue = parse_responses(self.read_json())
            except ValueError as err:
                return self.send_json(400, {"error": str(err)})
            with state.lock:
                state.responses = queue  # replaces any unconsumed entries
            return self.send_json(200, {"ok": True, "queued": len(queue)})
        if self.command == "GET" and path == "/_control/received":
            with state.lock:
                return self.send_json(200, list(state.received))
        if self.command == "GET" and path == "/_control/attempts":
            with state.lock:
                return self.send_json(200, list(state.attempts))
        return self.common_control(state, path)


if __name__ == "__main__":
    serve(SlackHandler, __doc__.splitlines()[0], make_state=lambda args: State())
