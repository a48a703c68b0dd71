"""Slack incoming webhooks (and Slack-compatible ones): `text` for
notifications and old clients, `blocks` for the layout."""

import json

from core import crypto
from notifications import transport

EMOJI = {"info": ":information_source:", "warning": ":hourglass:", "error": ":x:", "critical": ":rotating_light:"}
OK_EMOJI = ":white_check_mark:"


def escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body_of(message: dict) -> dict:
    emoji = OK_EMOJI if message["status"] == "succeeded" else EMOJI.get(message["severity"], "")
    title = escape(message["title"])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *<{message['url']}|{title}>*"}}]
    fields = [{"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"} for label, value in message["fields"]]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})  # Slack takes at most 10
    if message["error"]:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n```{escape(message['error'])}```"}}
        )
    if message["result_summary"]:
        summary = escape(message["result_summary"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Result*\n```{summary}```"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message['url']}|Open in Steward>"}]})
    text = f"{message['title']}: {message['status']}"
    if message["error"]:
        text += f" — {message['error'][:200]}"
    return {"text": escape(text), "blocks": blocks}


def send(channel, delivery) -> str:
    try:
        url = crypto.decrypt(channel.secret_encrypted)
    except crypto.DecryptionError as exc:
        raise transport.SendError(f"the Slack webhook URL {exc}", permanent=True) from None
    body = json.dumps(body_of(delivery.message), ensure_ascii=False).encode()
    answer = transport.post(url, body, {})
    return f"HTTP {answer.status} {answer.body[:20]}".strip()
