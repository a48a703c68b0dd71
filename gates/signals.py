"""What the gates floor announces to the floors above it; they connect in
their AppConfig.ready(). Sent inside the transaction of the decision."""

from django.dispatch import Signal

# check=Check: decided (its verdict is set), by its runs or by the timeout.
check_decided = Signal()
