"""One module per kind of channel, each with `send(channel, delivery) -> str`
(a short note of what the receiver answered) raising
notifications.transport.SendError when the attempt failed."""

from notifications.senders import email, pagerduty, slack, webhook

SENDERS = {"slack": slack, "webhook": webhook, "email": email, "pagerduty": pagerduty}


def send(channel, delivery) -> str:
    return SENDERS[channel.kind].send(channel, delivery)
