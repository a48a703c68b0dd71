"""Every rule a channel or a subscription must pass to be saved, for the
API's serializers and the notification pages alike. Plain values in (the
related rows as objects, or None); a refusal (core.errors.Refused) names the
field. A channel's target rules are channels.prepare's: reused, not copied."""

from core.errors import Refused
from notifications import channels
from notifications.models import EVENTS_FOR, Channel


def channel(kind: str, data: dict, instance: Channel | None = None) -> channels.Prepared:
    """The model fields `data` sets for a channel of `kind` (url, recipients,
    routing_key, signing_secret; absent or None: unchanged on an update)."""
    if instance is not None and kind != instance.kind:
        raise Refused("a channel's kind cannot change; create another channel", "kind")
    return channels.prepare(kind, data, instance)  # its ChannelError is a Refused naming the field


# The API has answered this refusal under "detail" since subscriptions began.
SUBJECT_FIELD = "detail"


def subscription(subjects: dict, events: list) -> list:
    """`subjects`: runbook, binding and gate (each an object or None), of
    which exactly one is given; `events` must suit that subject. Returns the
    events without repeats, in their order."""
    given = [name for name, value in subjects.items() if value is not None]
    if len(given) != 1:
        raise Refused("name exactly one of runbook, binding or gate", SUBJECT_FIELD)
    subject = given[0]
    allowed = EVENTS_FOR[subject]
    wrong = [e for e in events if e not in allowed]
    if wrong:
        raise Refused(f"a {subject} subscription takes {', '.join(allowed)}; not {', '.join(wrong)}", "events")
    return list(dict.fromkeys(events))
