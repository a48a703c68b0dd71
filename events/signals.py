"""What the events floor announces to the floors above it; they connect in
their AppConfig.ready(). Sent inside the transaction of the change."""

from django.dispatch import Signal

# binding=Binding: its breaker tripped; its matches are skipped until a reset.
binding_tripped = Signal()
