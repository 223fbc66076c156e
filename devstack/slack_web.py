"""Slack's Web API (``chat.postMessage``, ``chat.update``) for the local Slack stand-in.

Why: with a bot token the alerter posts one parent message per alert, replies in its thread and
edits the parent as the alert changes. Tests must see the channel as it ends up (which parents,
which replies, what was edited), and must make Slack misbehave the ways that matter for that
flow: errors, 429 with ``Retry-After``, slow answers, a dropped connection after Slack applied the
call (the client never learns its ``ts``), a message deleted by a person.

``slack.py`` serves it on the same port as the webhook: ``POST /api/<method>`` is a Web API call,
``/_control/web/...`` its control endpoints (see slack.py's docstring and devstack/README.md).
The block rules are the webhook's ``validate()``, handed in by slack.py (no import cycle).

Also here: interaction response URLs (``POST /actions/<id>``, what Slack hands an app with each
button click as ``response_url``). Each post is recorded; one with ``replace_original`` replaces
the message the test registered for that id (``/_control/responses/register``) as chat.update
would, and one with ``delete_original`` deletes it, so a test sees the clicked message change.
"""

import json
import math
import threading
import time
from urllib.parse import parse_qs

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
METHODS = ("chat.postMessage", "chat.update")
SCRIPT_METHODS = METHODS + ("*",)
MAX_TEXT = 40000
DEFAULT_TOKENS = ("xoxb-local-test-token",)
DEFAULT_CHANNELS = {"C0ALERTS01": {"member": True}}
SCRIPT_KEYS = {"error", "retry_after", "status", "body", "headers", "delay_ms", "close", "apply"}
RESPONSE_SCRIPT_KEYS = {"status", "body", "delay_ms"}
ACTIONS = "/actions/"


class ControlError(ValueError):
    """A bad control request: answered 400 (or ``status``) with the message."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def strict_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise ControlError(f"{where} must be an object")
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ControlError(f"{where}: unknown keys {unknown}")


def parse_setup(raw):
    """Validate a workspace config; missing keys take the defaults."""
    strict_keys(raw, {"tokens", "channels", "post_limit"}, "setup")
    tokens = raw.get("tokens", list(DEFAULT_TOKENS))
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() for t in tokens):
        raise ControlError("setup.tokens must be a list of non-empty strings")
    channels = raw.get("channels", DEFAULT_CHANNELS)
    if not isinstance(channels, dict):
        raise ControlError("setup.channels must be an object {id: {member: bool}}")
    parsed = {}
    for cid, spec in channels.items():
        strict_keys(spec, {"member"}, f"setup.channels[{cid!r}]")
        if not isinstance(spec.get("member", True), bool):
            raise ControlError(f"setup.channels[{cid!r}].member must be a boolean")
        parsed[cid] = {"member": spec.get("member", True)}
    limit = raw.get("post_limit")
    if limit is not None:
        strict_keys(limit, {"per_second", "burst"}, "setup.post_limit")
        rate, burst = limit.get("per_second"), limit.get("burst")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            raise ControlError("setup.post_limit.per_second must be a number > 0")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ControlError("setup.post_limit.burst must be an integer >= 1")
        limit = {"per_second": rate, "burst": burst}
    return list(tokens), parsed, limit


def parse_script(raw):
    """Validate ``{"method", "responses"}``; strict like slack.parse_responses."""
    strict_keys(raw, {"method", "responses"}, "script")
    method = raw.get("method")
    if method not in SCRIPT_METHODS:
        raise ControlError(f"script.method must be one of {list(SCRIPT_METHODS)}")
    if not isinstance(raw.get("responses"), list):
        raise ControlError('script must be {"method": ..., "responses": [...]}')
    queue = []
    for i, item in enumerate(raw["responses"]):
        where = f"responses[{i}]"
        strict_keys(item, SCRIPT_KEYS, where)
        if "error" in item and not (isinstance(item["error"], str) and item["error"]):
            raise ControlError(f"{where}.error must be a non-empty string")
        if "retry_after" in item and (item.get("error") != "ratelimited" or isinstance(item["retry_after"], bool)
                                      or not isinstance(item["retry_after"], int) or item["retry_after"] < 0):
            raise ControlError(f"{where}.retry_after is an integer >= 0, only with error ratelimited")
        if "status" in item and (isinstance(item["status"], bool) or not isinstance(item["status"], int)):
            raise ControlError(f"{where}.status must be an integer")
        if ("body" in item or "headers" in item) and "status" not in item:
            raise ControlError(f"{where}: body and headers go with status")
        if not isinstance(item.get("body", ""), (str, dict, list)):
            raise ControlError(f"{where}.body must be a string (sent as is) or JSON")
        if not isinstance(item.get("headers", {}), dict):
            raise ControlError(f"{where}.headers must be an object")
        delay = item.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise ControlError(f"{where}.delay_ms must be a number >= 0")
        for flag in ("close", "apply"):
            if not isinstance(item.get(flag, False), bool):
                raise ControlError(f"{where}.{flag} must be a boolean")
        answers = [k for k in ("error", "status") if k in item] + (["close"] if item.get("close") else [])
        if len(answers) > 1:
            raise ControlError(f"{where}: only one of error, status, close")
        if item.get("apply") and not (item.get("close") or "status" in item):
            raise ControlError(f"{where}.apply goes with close or status")
        queue.append(item)
    return method, queue


def parse_response_script(raw):
    """Validate ``{"responses": [{"status": n, "body": ...} | {"delay_ms": n} ...]}``."""
    strict_keys(raw, {"responses"}, "responses/script")
    if not isinstance(raw.get("responses"), list):
        raise ControlError('responses/script must be {"responses": [...]}')
    queue = []
    for i, item in enumerate(raw["responses"]):
        where = f"responses[{i}]"
        strict_keys(item, RESPONSE_SCRIPT_KEYS, where)
        if "status" in item and (isinstance(item["status"], bool) or not isinstance(item["status"], int)):
            raise ControlError(f"{where}.status must be an integer")
        if "body" in item and "status" not in item:
            raise ControlError(f"{where}: body goes with status")
        if not isinstance(item.get("body", ""), (str, dict, list)):
            raise ControlError(f"{where}.body must be a string (sent as is) or JSON")
        delay = item.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise ControlError(f"{where}.delay_ms must be a number >= 0")
        queue.append(item)
    return queue


def truthy(value):
    """Slack takes both JSON true and the string "true" for its message flags."""
    return value in (True, "true")


def render_blocks(blocks):
    """The lines a person reads in header, section (text and fields) and context blocks."""
    lines = []
    for block in blocks:
        kind = block.get("type")
        texts = []
        if kind in ("header", "section") and isinstance(block.get("text"), dict):
            texts.append(str(block["text"].get("text", "")))
        if kind == "section":
            texts += [str(f.get("text", "")) for f in block.get("fields") or [] if isinstance(f, dict)]
        if kind == "context":
            parts = [str(e["text"]) for e in block.get("elements") or [] if isinstance(e, dict) and "text" in e]
            texts.append("  ".join(parts))
        for text in texts:
            lines += text.split("\n")
    return lines


class WebState:
    """The workspace: config, messages per channel, call log, script queues, rate-limit buckets."""

    def __init__(self, validate_blocks):
        self.validate_blocks = validate_blocks  # slack.validate: payload -> None | error
        self.lock = threading.Lock()
        self.last_ts = (0, 0)  # never reset: a ts is unique for the server's whole life
        self.reset()

    def reset(self):
        self.setup(list(DEFAULT_TOKENS), {c: dict(s) for c, s in DEFAULT_CHANNELS.items()}, None)

    def setup(self, tokens, channels, post_limit):
        with self.lock:
            self.tokens = set(tokens)
            self.revoked = set()
            self.channels = channels
            self.post_limit = post_limit
            self.buckets = {}  # channel -> [tokens left, monotonic time of last refill]
            self.messages = {c: [] for c in channels}  # channel -> parents in order
            self.by_ts = {c: {} for c in channels}  # channel -> ts -> parent or reply
            self.calls = []
            self.scripts = {m: [] for m in SCRIPT_METHODS}
            # Response URLs: every post in arrival order, the scripted answers, and the message
            # each id stands for (id -> (channel, ts)).
            self.responses = []
            self.response_script = []
            self.response_targets = {}

    # ----- helpers, called with the lock held ---------------------------
    def next_ts(self):
        """Wall-clock seconds plus a 6-digit counter: unique and strictly increasing."""
        sec, n = self.last_ts
        now = int(time.time())
        sec, n = (now, 1) if now > sec else (sec, n + 1)
        if n > 999999:
            sec, n = sec + 1, 1
        self.last_ts = (sec, n)
        return f"{sec}.{n:06d}"

    def auth_error(self, header):
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if not scheme or (scheme.lower() == "bearer" and not token):
            return "not_authed"
        if scheme.lower() != "bearer" or token not in self.tokens:
            return "invalid_auth"
        if token in self.revoked:
            return "token_revoked"
        return None

    def take_post_token(self, channel):
        """Token bucket per channel; returns None when allowed, else the seconds to wait."""
        if not self.post_limit:
            return None
        rate, burst = self.post_limit["per_second"], self.post_limit["burst"]
        now = time.monotonic()
        left, then = self.buckets.get(channel, (burst, now))
        left = min(burst, left + (now - then) * rate)
        if left >= 1:
            self.buckets[channel] = (left - 1, now)
            return None
        self.buckets[channel] = (left, now)
        return max(1, math.ceil((1 - left) / rate))

    def content_error(self, payload):
        text, blocks = payload.get("text"), payload.get("blocks")
        if text is not None and not isinstance(text, str):
            return "invalid_arguments"
        if not text and not blocks:
            return "no_text"
        if text and len(text) > MAX_TEXT:
            return "msg_too_long"
        if blocks is not None:
            if self.validate_blocks({"blocks": blocks}):
                return "invalid_blocks"
            ids = [b["block_id"] for b in blocks if isinstance(b.get("block_id"), str)]
            if len(ids) != len(set(ids)):
                return "invalid_blocks"
        return None

    # ----- the methods: (status, body, headers) -------------------------
    def handle(self, method, auth_header, payload, call):
        error = self.auth_error(auth_header)
        if error:
            return 200, {"ok": False, "error": error}, {}
        if not isinstance(payload, dict):
            return 200, {"ok": False, "error": "invalid_json"}, {}
        channel = payload.get("channel")
        if not isinstance(channel, str) or channel not in self.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if method == "chat.postMessage":
            return self.post_message(channel, payload, call)
        return self.update(channel, payload)

    def post_message(self, channel, payload, call):
        wait = self.take_post_token(channel)
        if wait is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": wait}
        if not self.channels[channel]["member"]:
            return 200, {"ok": False, "error": "not_in_channel"}, {}
        error = self.content_error(payload)
        if error:
            return 200, {"ok": False, "error": error}, {}
        thread_ts = payload.get("thread_ts")
        parent = None
        if thread_ts is not None:
            parent = self.by_ts[channel].get(thread_ts) if isinstance(thread_ts, str) else None
            if parent is None or parent["deleted"] or "replies" not in parent:
                return 200, {"ok": False, "error": "thread_not_found"}, {}
        ts = self.next_ts()
        message = {"ts": ts, "text": payload.get("text") or "", "blocks": payload.get("blocks") or [],
                   "edits": 0, "deleted": False}
        if parent is None:
            message["replies"] = []
            self.messages[channel].append(message)
        else:
            message["reply_broadcast"] = payload.get("reply_broadcast") in (True, "true")
            parent["replies"].append(message)
        self.by_ts[channel][ts] = message
        call["ts"] = ts
        answer = {"type": "message", "text": message["text"], "blocks": message["blocks"], "ts": ts}
        if parent is not None:
            answer["thread_ts"] = thread_ts
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": answer}, {}

    def update(self, channel, payload):
        message = self.by_ts[channel].get(payload.get("ts")) if isinstance(payload.get("ts"), str) else None
        if message is None or message["deleted"]:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        error = self.content_error(payload)
        if error:
            return 200, {"ok": False, "error": error}, {}
        # As Slack documents it: blocks given replace the blocks; text without blocks removes them;
        # text left out keeps the old text (the notification fallback).
        if payload.get("blocks") is not None:
            message["blocks"] = payload["blocks"]
        else:
            message["blocks"] = []
        if payload.get("text") is not None:
            message["text"] = payload["text"]
        message["edits"] += 1
        return 200, {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"],
                     "message": {"type": "message", "text": message["text"], "blocks": message["blocks"]}}, {}

    # ----- response URLs: (status, body, what was done to the registered message) ---------
    def respond(self, rid, payload):
        """A post to the response URL `rid`. Replacing follows chat.update (blocks given replace the
        blocks, text without blocks removes them, text left out is kept; one edit), deleting marks
        the message deleted. Without a registered message, or without either flag, the post is only
        recorded (an ephemeral answer shows in no channel)."""
        if not isinstance(payload, dict):
            return 400, {"ok": False, "error": "invalid_payload"}, None
        delete, replace = truthy(payload.get("delete_original")), truthy(payload.get("replace_original"))
        if not delete:
            error = self.content_error(payload)
            if error:
                return 400, {"ok": False, "error": error}, None
        if not (delete or replace):
            return 200, {"ok": True}, None
        target = self.response_targets.get(rid)
        if target is None:
            return 200, {"ok": True}, "not_registered"
        channel, ts = target
        message = self.by_ts.get(channel, {}).get(ts)
        if message is None or message["deleted"]:
            # Slack's answer here is not documented: the post is accepted and the miss recorded.
            return 200, {"ok": True}, "message_not_found"
        if delete:
            message["deleted"] = True
            return 200, {"ok": True}, "deleted"
        fields = {k: payload[k] for k in ("text", "blocks") if k in payload}
        self.update(channel, {**fields, "channel": channel, "ts": ts})
        return 200, {"ok": True}, "replaced"

    # ----- control views --------------------------------------------------
    def channel_view(self, channel):
        if channel not in self.channels:
            raise ControlError(f"no channel {channel!r}", 404)
        keys = ("ts", "text", "blocks", "edits", "deleted")
        return {"messages": [
            {**{k: m[k] for k in keys},
             "replies": [{**{k: r[k] for k in keys}, "reply_broadcast": r["reply_broadcast"]} for r in m["replies"]]}
            for m in self.messages[channel]
        ]}

    def render(self, channel):
        """The channel as a person reads it: parents, their blocks' text, replies indented."""
        out = []
        for parent in self.channel_view(channel)["messages"]:
            if out:
                out.append("")
            out += self.render_message(parent, "", "")
            for reply in parent["replies"]:
                out += self.render_message(reply, "  ↳ ", "    ")
        return "\n".join(out) + ("\n" if out else "")

    @staticmethod
    def render_message(message, first, rest):
        if message["deleted"]:
            lines = ["(deleted)"]
        else:
            lines = render_blocks(message["blocks"]) if message["blocks"] else message["text"].split("\n")
            lines = lines or [""]
            if message["edits"]:
                lines[-1] += " (edited)"
            if message.get("reply_broadcast"):
                lines[-1] += " (also sent to the channel)"
        return [(first if i == 0 else rest) + line for i, line in enumerate(lines)]


class WebApiMixin:
    """The Web API half of SlackHandler: ``serve_web`` for /api/*, ``control_web`` for /_control/web/*."""

    def send_web(self, status, body, headers=None):
        self.send_json(status, body, headers, content_type=JSON)

    def serve_web(self, web, path):
        raw = self.read_body()
        if self.command != "POST":
            return self.send_web(405, {"ok": False, "error": "method_not_allowed"})
        method = path[len("/api/"):]
        arrived = time.time()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        body = payload if isinstance(payload, dict) else {}
        auth = self.headers.get("Authorization")
        with web.lock:
            call = {"method": method, "at": arrived, "channel": body.get("channel"), "status": None,
                    "error": None, "token_ok": web.auth_error(auth) is None}
            if method == "chat.update" and "ts" in body:
                call["ts"] = body["ts"]
            if method == "chat.postMessage" and "thread_ts" in body:
                call["thread_ts"] = body["thread_ts"]
                call["reply_broadcast"] = body.get("reply_broadcast") in (True, "true")
            web.calls.append(call)
            known = method in METHODS
            if not known:
                call.update(status=404, error="unknown_method")
            queue = (web.scripts[method] or web.scripts["*"]) if known else None
            scripted = queue.pop(0) if queue else {}
        if not known:
            return self.send_web(404, {"ok": False, "error": "unknown_method"})

        if scripted.get("delay_ms"):
            time.sleep(scripted["delay_ms"] / 1000.0)
        if "error" in scripted:
            error = scripted["error"]
            status, headers = (429, {"Retry-After": scripted.get("retry_after", 1)}) if error == "ratelimited" else (200, {})
            with web.lock:
                call.update(status=status, error=error)
            return self.send_web(status, {"ok": False, "error": error}, headers)
        if scripted.get("close") and not scripted.get("apply"):
            return self.drop(web, call)

        if "status" in scripted:  # a raw answer, after applying the call when asked to
            if scripted.get("apply"):
                with web.lock:
                    web.handle(method, auth, payload, call)
            status, answer, headers = scripted["status"], scripted.get("body", ""), scripted.get("headers", {})
        else:  # normal handling; with close + apply, Slack did it but the client never hears
            with web.lock:
                status, answer, headers = web.handle(method, auth, payload, call)
                call["error"] = None if answer.get("ok") else answer["error"]
            if scripted.get("close"):
                return self.drop(web, call)
        with web.lock:
            call["status"] = status
        if isinstance(answer, str):
            return self.send_bytes(status, answer.encode("utf-8"), TEXT, headers)
        return self.send_web(status, answer, headers)

    def drop(self, web, call):
        """Close without answering (a network cut); the call keeps status null."""
        with web.lock:
            call["closed"] = True
        self.close_connection = True
        self.log_message("%s %s -> closed without answer", self.command, self.path)

    # ----- response URLs ---------------------------------------------------
    def serve_response_url(self, web, path):
        """POST /actions/<id>: recorded on arrival; a scripted answer first, else ``respond``."""
        raw = self.read_body()
        if self.command != "POST":
            return self.send_web(405, {"ok": False, "error": "method_not_allowed"})
        try:
            payload, parsed = json.loads(raw), True
        except ValueError:
            payload, parsed = None, False
        with web.lock:
            record = {"path": path, "body": payload if parsed else raw.decode("utf-8", "replace"),
                      "at": time.time(), "status": None, "applied": None}
            web.responses.append(record)
            scripted = web.response_script.pop(0) if web.response_script else {}
        if scripted.get("delay_ms"):
            time.sleep(scripted["delay_ms"] / 1000.0)
        if "status" in scripted:  # a raw answer: Slack did nothing with the post
            status, answer = scripted["status"], scripted.get("body", "")
            with web.lock:
                record["status"] = status
            if isinstance(answer, str):
                return self.send_bytes(status, answer.encode("utf-8"), TEXT)
            return self.send_web(status, answer)
        with web.lock:
            status, answer, applied = web.respond(path[len(ACTIONS):].strip("/"), payload if parsed else None)
            record.update(status=status, applied=applied)
        return self.send_web(status, answer)

    def control_responses(self, web, path):
        """GET /_control/responses; POST /_control/responses/script and /register."""
        try:
            if self.command == "GET" and path == "/_control/responses":
                self.read_body()
                with web.lock:
                    return self.send_json(200, [dict(r) for r in web.responses])
            if self.command == "POST" and path == "/_control/responses/script":
                queue = parse_response_script(self.read_json())
                with web.lock:
                    web.response_script = queue  # replaces any unconsumed entries
                return self.send_json(200, {"ok": True, "queued": len(queue)})
            if self.command == "POST" and path == "/_control/responses/register":
                body = self.read_json()
                strict_keys(body, {"id", "channel", "ts"}, "responses/register")
                if not all(isinstance(body.get(k), str) and body[k] for k in ("id", "channel", "ts")):
                    raise ControlError("responses/register needs non-empty strings id, channel and ts")
                with web.lock:
                    web.response_targets[body["id"].strip("/")] = (body["channel"], body["ts"])
                return self.send_json(200, {"ok": True})
            self.read_body()
        except ValueError as err:  # ControlError, or a body that is not JSON
            return self.send_json(getattr(err, "status", 400), {"error": str(err)})
        return self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def control_web(self, web, path):
        try:
            if self.command == "POST":
                return self.send_json(200, self.control_web_post(web, path, self.read_json()))
            self.read_body()
            query = parse_qs(self.path.partition("?")[2])
            if self.command == "GET" and path == "/_control/web/calls":
                with web.lock:
                    return self.send_json(200, [dict(c) for c in web.calls])
            if self.command == "GET" and path == "/_control/web/channel":
                with web.lock:
                    return self.send_json(200, web.channel_view(query.get("id", [""])[0]))
            if self.command == "GET" and path == "/_control/web/render":
                with web.lock:
                    text = web.render(query.get("channel", [""])[0])
                return self.send_bytes(200, text.encode("utf-8"), TEXT)
        except ValueError as err:  # ControlError, or a body that is not JSON
            return self.send_json(getattr(err, "status", 400), {"error": str(err)})
        return self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def control_web_post(self, web, path, body):
        if path == "/_control/web/setup":
            web.setup(*parse_setup(body))
            return {"ok": True}
        if path == "/_control/web/script":
            method, queue = parse_script(body)
            with web.lock:
                web.scripts[method] = queue  # replaces any unconsumed entries
            return {"ok": True, "queued": len(queue)}
        if path == "/_control/web/delete":
            strict_keys(body, {"channel", "ts"}, "delete")
            with web.lock:
                channel, ts = body.get("channel"), body.get("ts")
                message = web.by_ts.get(channel, {}).get(ts) if isinstance(channel, str) and isinstance(ts, str) else None
                if message is None:
                    raise ControlError(f"no message {ts!r} in channel {channel!r}", 404)
                message["deleted"] = True
            return {"ok": True}
        if path == "/_control/web/revoke":
            strict_keys(body, {"token"}, "revoke")
            with web.lock:
                token = body.get("token")
                if not isinstance(token, str) or token not in web.tokens:
                    raise ControlError(f"no token {token!r} in the workspace")
                web.revoked.add(token)
            return {"ok": True}
        raise ControlError(f"no control endpoint POST {path}", 404)
