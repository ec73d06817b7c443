"""What Slack sends the bot: payloads for Socket Mode envelopes, bodies for HTTP mode (re-exported by slack_api).

Shaped like Slack's real requests, down to the fields slack-bolt reads to route and authorize them
(team, user, channel, api_app_id, authorizations).
"""

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_state import APP_ID, TEAM_ID, Json, bot_user_id_for, domain_for


def signed_headers(secret: str, body: str, timestamp: int) -> dict[str, str]:
    """Slack's v0 request signature (HMAC-SHA256 of ``v0:timestamp:body``) and the body's content type."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    kind = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
    return {
        "Content-Type": kind,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command_payload(command: str, text: str = "", *, team_id: str = TEAM_ID, **fields: str) -> dict[str, str]:
    """A slash command as the ``slash_commands`` envelope payload (form-encoded in HTTP mode).

    ``fields`` override the defaults, e.g. ``user_id``, ``channel_id``, ``response_url``, ``trigger_id``.
    """
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": domain_for(team_id),
        "channel_id": "C0000GEN1",
        "channel_name": "general",
        "user_id": "U0000USR1",
        "user_name": "user",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": "",
        "trigger_id": "1111.2222.fake",
        **fields,
    }


def slash_command_body(command: str, text: str = "", *, team_id: str = TEAM_ID, **fields: str) -> str:
    """The form body Slack POSTs for a slash command in HTTP mode."""
    return urlencode(slash_command_payload(command, text, team_id=team_id, **fields))


def event_callback_payload(event: Json, event_id: str = "Ev0000001", team_id: str = TEAM_ID) -> Json:
    """An Events API ``event_callback`` wrapping ``event``: the ``events_api`` envelope payload."""
    authorization = {"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id_for(team_id), "is_bot": True}
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(float(event.get("event_ts", 0))),
        "authorizations": [authorization],
    }


def event_callback_body(event: Json, event_id: str = "Ev0000001", team_id: str = TEAM_ID) -> str:
    """The JSON body Slack POSTs for an event in HTTP mode."""
    return json.dumps(event_callback_payload(event, event_id, team_id))


def view_submission_payload(
    callback_id: str, values: Json, user_id: str = "U0000USR1", *, team_id: str = TEAM_ID, **view: Any
) -> Json:
    """A modal's ``view_submission`` carrying ``state.values``: the ``interactive`` envelope payload.

    ``view`` overrides fields of the submitted view, e.g. ``private_metadata`` or ``id``.
    """
    return {
        "type": "view_submission",
        "token": "legacy-verification-token",
        "api_app_id": APP_ID,
        "team": {"id": team_id, "domain": domain_for(team_id)},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "trigger_id": "3333.4444.fake",
        "view": {
            "id": "V0000VIEW",
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "",
            "state": {"values": values},
            "hash": "h1",
            **view,
        },
    }


def view_submission_body(
    callback_id: str, values: Json, user_id: str = "U0000USR1", *, team_id: str = TEAM_ID, **view: Any
) -> str:
    """The form body (``payload=<json>``) Slack POSTs for a modal submission in HTTP mode."""
    payload = view_submission_payload(callback_id, values, user_id, team_id=team_id, **view)
    return urlencode({"payload": json.dumps(payload)})


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    user_id: str,
    team_id: str = TEAM_ID,
    response_url: str = "",
    channel_id: str | None = None,
    message_ts: str | None = None,
    block_id: str = "b",
    trigger_id: str = "5555.6666.fake",
    message: Json | None = None,
    action_ts: str = "1700000000.999999",
) -> Json:
    """A button click as Slack's ``block_actions`` interactive payload (the ``interactive`` envelope payload).

    With ``message_ts`` the button was on that message in ``channel_id`` (``message`` overrides the minimal
    message sent along); with only ``channel_id``, on an ephemeral message there; with neither, in a modal.
    """
    payload: Json = {
        "type": "block_actions",
        "token": "legacy-verification-token",
        "api_app_id": APP_ID,
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "team": {"id": team_id, "domain": domain_for(team_id)},
        "enterprise": None,
        "is_enterprise_install": False,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    if channel_id is None:
        if message_ts is not None:
            raise ValueError("a message's button needs the message's channel_id")
        payload["container"] = {"type": "view", "view_id": "V0000VIEW"}
        return payload
    ephemeral = message_ts is None
    ts = message_ts or "1700000000.000001"
    payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel_id, "is_ephemeral": ephemeral}
    payload["channel"] = {"id": channel_id, "name": "directmessage" if channel_id[:1] == "D" else channel_id.lower()}
    payload["state"] = {"values": {}}
    if not ephemeral:
        bot = bot_user_id_for(team_id)
        payload["message"] = message or {"type": "message", "user": bot, "ts": ts, "text": "", "blocks": []}
    return payload


def block_actions_body(action_id: str, value: str, **fields: Any) -> str:
    """The form body (``payload=<json>``) Slack POSTs for a button click in HTTP mode."""
    return urlencode({"payload": json.dumps(block_actions_payload(action_id, value, **fields))})
