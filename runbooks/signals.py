"""What the runbooks floor announces to the floors above it (the breaker,
gates, notifications), which connect their receivers in AppConfig.ready():
the runbooks app never imports them.

Most are sent inside the transaction that made the change, so what a
receiver writes (a delivery row) commits with it or not at all. A run's end
comes twice: `execution_ending` inside that transaction (the record that it
ended: notifications), `execution_finished` once it is committed (what
follows from it, decided from committed rows: the breaker, the gates), so
"the run failed" is always told before "the breaker tripped".
"""

from django.dispatch import Signal

# executions=[Execution, ...]: new rows, committed with this transaction
# (queued, awaiting approval, or failed before they could start).
runs_created = Signal()

# execution=Execution: claimed by a worker, now running.
execution_started = Signal()

# execution=Execution, status=str: it is ending (finished by its worker, or
# marked lost by the sweep), inside the transaction; `execution.status` is
# already the new status.
execution_ending = Signal()

# execution=Execution, status=str: its end is committed and its slot released.
execution_finished = Signal()
