"""Email through Django's email backend (EMAIL_HOST and friends): a subject
and a plain-text body."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from notifications import transport


def subject_of(message: dict) -> str:
    # A header: no line breaks, whatever a runbook's name holds.
    return " ".join(f"[Steward] {message['title']}".split())[:200]


def text_of(message: dict) -> str:
    lines = [message["title"], ""]
    width = max((len(label) for label, _ in message["fields"]), default=0)
    lines += [f"{label.ljust(width)}  {value}" for label, value in message["fields"]]
    if message["reasons"]:
        lines += ["", "Reasons:"] + [f"- {reason}" for reason in message["reasons"]]
    elif message["error"]:
        lines += ["", "Error:", message["error"]]
    if message["result_summary"]:
        lines += ["", "Result:", message["result_summary"]]
    lines += ["", f"Open in Steward: {message['url']}", ""]
    return "\n".join(lines)


def send(channel, delivery) -> str:
    mail = EmailMessage(
        subject_of(delivery.message),
        text_of(delivery.message),
        settings.DEFAULT_FROM_EMAIL,
        channel.recipients,
        headers={"X-Steward-Delivery": str(delivery.id), "X-Steward-Event": delivery.event},
    )
    try:
        mail.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise transport.SendError(f"recipients refused: {', '.join(exc.recipients)}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise transport.SendError(f"the mail server failed: {exc or type(exc).__name__}") from None
    return f"sent to {len(channel.recipients)} recipient(s)"
