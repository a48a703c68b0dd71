import hashlib
import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.generations import AnnouncingQuerySet

DEFAULT_QUEUE = "steward"  # also CELERY_TASK_DEFAULT_QUEUE: settings load before any app
# The ends that count as a failure: the breaker counts them, retries take
# them, the dashboard and notifications call them failed.
FAILING = ("failed", "timed_out", "lost")


class Network(models.TextChoices):
    """What a run may reach (runbooks/runners/namespaces.py)."""

    NONE = "none", "none (loopback only)"
    EGRESS = "egress", "egress (outbound, never the control plane)"
    HOST = "host", "host (the worker's own network; admins only)"


# A new runbook reaches nothing unless it declares egress.
DEFAULT_NETWORK = Network.NONE
# Versions saved before the field existed had the worker's network; they
# were migrated to egress, and egress is left out of the canonical JSON so
# their sha256 stays what it was.
UNSTATED_NETWORK = Network.EGRESS


class Runbook(models.Model):
    class OnLimit(models.TextChoices):
        WAIT = "wait"  # stay queued until a slot frees up
        SKIP = "skip"  # record the run as skipped, with the reason

    RETRYABLE = FAILING
    POLICY_FIELDS = (
        "max_attempts",
        "retry_backoff_seconds",
        "retry_on",
        "concurrency_limit",
        "concurrency_key",
        "on_concurrency_limit",
        "requires_approval",
    )

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)  # Markdown
    tags = models.JSONField(default=list, blank=True)
    team = models.CharField(max_length=100, blank=True)  # the team that owns it
    # The version runs use. On a protected runbook it is the last approved
    # one, while a newer version waits in `pending_version` for a second
    # author's approval (runbooks/review.py).
    current_version = models.ForeignKey(
        "RunbookVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    protected = models.BooleanField(default=False)
    pending_version = models.ForeignKey(
        "RunbookVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Retries are opt-in: 1 attempt means none.
    max_attempts = models.PositiveSmallIntegerField(default=1)
    retry_backoff_seconds = models.PositiveIntegerField(default=30)
    retry_on = models.JSONField(default=list, blank=True)  # statuses among RETRYABLE; empty means all
    # 0: no limit. The key template (e.g. "{{ params.host }}") limits per key.
    concurrency_limit = models.PositiveIntegerField(default=0)
    concurrency_key = models.CharField(max_length=200, blank=True)
    on_concurrency_limit = models.CharField(max_length=8, choices=OnLimit.choices, default=OnLimit.WAIT)
    # Every new run (manual, binding, schedule, rerun) waits for a responder's approval.
    requires_approval = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Webhooks read runbooks from a per-process cache (events/hookconfig.py).
    objects = AnnouncingQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ImmutableError(Exception):
    pass


class RunbookVersion(models.Model):
    """What exactly runs, and with what policy: immutable once saved and
    named by its sha256."""

    class Kind(models.TextChoices):
        PYTHON = "python"
        SHELL = "shell"
        SSH = "ssh"  # a shell script on each selected Target (runbooks/remote.py)

    # Before format 2 the run policy lived on the Runbook, outside review.
    CODE_FIELDS = ("kind", "script", "parameters", "timeout_seconds", "secrets", "queue", "network")
    # Everything that changes what runs, with what parameters, how often and
    # under whose eyes: a change to any of them is a new (reviewed) version.
    POLICY_FIELDS = (*Runbook.POLICY_FIELDS, "protected")
    # A Python runbook's own libraries: the PEP 508 lines its author wrote
    # and the lock (exact versions and hashes) they resolved to when saved,
    # which is what every run installs (runbooks/environments.py).
    REQUIREMENTS_FIELDS = ("requirements", "requirements_lock")
    CONTENT_FIELDS = (*CODE_FIELDS, *POLICY_FIELDS, "targets", *REQUIREMENTS_FIELDS)
    # The fields each content format's sha256 covers (see migrations 0011 and 0012).
    FORMATS = {1: CODE_FIELDS, 2: (*CODE_FIELDS, *POLICY_FIELDS, "targets"), 3: CONTENT_FIELDS}
    FORMAT = 3
    # Left out of the content (and so of the sha256) at these values: a
    # version at the defaults hashes as it did before the field existed.
    UNSTATED = {
        "network": UNSTATED_NETWORK,
        "max_attempts": 1,
        "retry_backoff_seconds": 30,
        "retry_on": [],
        "concurrency_limit": 0,
        "concurrency_key": "",
        "on_concurrency_limit": Runbook.OnLimit.WAIT,
        "requires_approval": False,
        "protected": False,
        "targets": {},
        "requirements": [],
        "requirements_lock": "",
    }

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    script = models.TextField()
    parameters = models.JSONField(default=dict)
    timeout_seconds = models.PositiveIntegerField(default=300)
    secrets = models.JSONField(default=list)
    queue = models.CharField(max_length=64, default=DEFAULT_QUEUE)
    network = models.CharField(max_length=8, choices=Network.choices, default=UNSTATED_NETWORK)
    # The run policy (Runbook keeps a copy of its current version's, which
    # the worker and the pages read; runbooks/versions.py writes both).
    max_attempts = models.PositiveSmallIntegerField(default=1)
    retry_backoff_seconds = models.PositiveIntegerField(default=30)
    retry_on = models.JSONField(default=list, blank=True)
    concurrency_limit = models.PositiveIntegerField(default=0)
    concurrency_key = models.CharField(max_length=200, blank=True)
    on_concurrency_limit = models.CharField(max_length=8, choices=Runbook.OnLimit.choices, default=Runbook.OnLimit.WAIT)
    requires_approval = models.BooleanField(default=False)
    protected = models.BooleanField(default=False)
    # `ssh` runbooks: which targets and how (runbooks/validation.py::targets_spec).
    targets = models.JSONField(default=dict, blank=True)
    requirements = models.JSONField(default=list, blank=True)
    # `uv pip compile --generate-hashes` output; never taken from a caller.
    requirements_lock = models.TextField(blank=True)
    # Which fields `sha256` covers: 1 for versions saved before the policy
    # joined the content (their hash covers CODE_FIELDS only), 2 before the
    # requirements did, 3 since.
    content_format = models.PositiveSmallIntegerField(default=FORMAT)
    sha256 = models.CharField(max_length=64)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set once, when a second author takes this version of a protected
    # runbook into use (a queryset update: the content stays immutable).
    # Versions saved while the runbook was not protected have none.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["runbook", "number"], name="unique_version_number")]

    def __str__(self):
        return f"{self.runbook_id} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("A runbook version cannot change; save a new version instead.")
        self.sha256 = self.content_hash(self.content())
        super().save(*args, **kwargs)

    @staticmethod
    def content_hash(content: dict) -> str:
        """sha256 over the canonical JSON of the version's content (contract)."""
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def fields(self) -> dict:
        """Every content field's value, stated or not."""
        return {name: getattr(self, name) for name in self.CONTENT_FIELDS}

    def policy(self) -> dict:
        return {name: getattr(self, name) for name in self.POLICY_FIELDS}

    def content(self) -> dict:
        """What `sha256` is over, by the version's own content format."""
        return self.canonical({name: getattr(self, name) for name in self.FORMATS[self.content_format]})

    def verify(self) -> bool:
        """Whether the stored sha256 is the hash of the stored content."""
        return self.sha256 == self.content_hash(self.content())

    def same_content(self, fields: dict) -> bool:
        """Whether saving `fields` would make this very version (compared as
        today's content, whatever format this version's hash has)."""
        return self.canonical(self.fields()) == self.canonical(fields)

    @classmethod
    def canonical(cls, fields: dict) -> dict:
        return {name: value for name, value in fields.items() if cls.UNSTATED.get(name, object()) != value}


class Execution(models.Model):
    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval"
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out"
        CANCELLED = "cancelled"
        REJECTED = "rejected"
        LOST = "lost"
        SKIPPED = "skipped"

    class Decision(models.TextChoices):
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired"

    FINISHED = {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.REJECTED,
        Status.LOST,
        Status.SKIPPED,
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="executions")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="executions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    parameters = models.JSONField(default=dict)
    event = models.ForeignKey(
        "events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    binding = models.ForeignKey(
        "events.Binding", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    # The event's source, kept on the run so "runs from this source" is one
    # indexed lookup instead of a walk through the events.
    source = models.ForeignKey("events.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The answer to an approval request (runbooks/approvals.py): who, when, why.
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    attempt = models.PositiveIntegerField(default=1)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A person's "run it again": same version and parameters, a new execution.
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Queued rows with no enqueued_at wait for the sweep: a retry's backoff
    # (not_before) or a free concurrency slot (waiting_for_slot).
    not_before = models.DateTimeField(null=True, blank=True)
    waiting_for_slot = models.BooleanField(default=False)
    concurrency_key = models.CharField(max_length=200, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    shutdown_requested_at = models.DateTimeField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True)  # the machine
    worker = models.CharField(max_length=255, blank=True)  # the Celery node that claimed it
    pgid = models.IntegerField(null=True, blank=True)
    # The network the run had: its version's mode, or `host` on a worker
    # that opted out of the sandbox (STEWARD_SANDBOX=process). Empty: never ran.
    network = models.CharField(max_length=8, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    log_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["runbook", "-created_at"]),
            models.Index(fields=["binding", "-created_at"]),
            models.Index(fields=["source", "-created_at"]),
            models.Index(fields=["runbook", "status", "concurrency_key"]),
            # The sweep finds the old hours a late finish changed (reports/rollups.py).
            models.Index(fields=["finished_at"]),
            # The dashboard's recent failures, however rare among all runs.
            models.Index(
                fields=["-created_at"],
                name="execution_failures",
                condition=models.Q(status__in=list(FAILING)),
            ),
        ]

    def __str__(self):
        return f"{self.runbook_id} {self.status} {self.id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RunHour(models.Model):
    """The runs created in one hour (UTC) of one runbook with one status, as
    counted when the hour was last rolled up (reports/rollups.py): the
    dashboard's charts add these up instead of reading a week of runs."""

    # Succeeded runs started by an alert, counted by how long after the alert
    # they finished: (field, upper bound) in order; the last has none.
    DELAYS = [
        ("fixed_under_1m", timedelta(minutes=1)),
        ("fixed_under_5m", timedelta(minutes=5)),
        ("fixed_under_15m", timedelta(minutes=15)),
        ("fixed_under_1h", timedelta(hours=1)),
        ("fixed_under_4h", timedelta(hours=4)),
        ("fixed_later", None),
    ]

    hour = models.DateTimeField()
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Execution.Status.choices)
    runs = models.PositiveIntegerField(default=0)
    fixed_under_1m = models.PositiveIntegerField(default=0)
    fixed_under_5m = models.PositiveIntegerField(default=0)
    fixed_under_15m = models.PositiveIntegerField(default=0)
    fixed_under_1h = models.PositiveIntegerField(default=0)
    fixed_under_4h = models.PositiveIntegerField(default=0)
    fixed_later = models.PositiveIntegerField(default=0)
    rolled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "runbook", "status"], name="run_hour_key")]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}:00 {self.runbook_id} {self.status}: {self.runs}"


class RolledHour(models.Model):
    """An hour whose RunHour and AlertHour rows hold its exact counts. Only
    these hours are read from the rollups; any other is read from raw rows."""

    hour = models.DateTimeField(unique=True)
    rolled_at = models.DateTimeField()

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}:00 rolled up at {self.rolled_at}"


class LogLine(models.Model):
    """One line of a run's output, numbered from 1 within the execution."""

    class Stream(models.TextChoices):
        STDOUT = "stdout"
        STDERR = "stderr"
        STEWARD = "steward"  # Steward's own notes: truncation, result warnings

    id = models.BigAutoField(primary_key=True)
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="log_lines")
    n = models.PositiveIntegerField()
    t = models.DateTimeField()
    stream = models.CharField(max_length=8, choices=Stream.choices)
    text = models.TextField()

    class Meta:
        ordering = ["execution", "n"]
        constraints = [models.UniqueConstraint(fields=["execution", "n"], name="unique_log_line")]

    def __str__(self):
        return f"{self.n} {self.stream}: {self.text[:60]}"


class Worker(models.Model):
    """A Celery worker process as it reports itself every few seconds: how
    /healthz knows a worker was seen, and how a restarted worker finds the
    runs its previous life left behind."""

    name = models.CharField(max_length=255, unique=True)  # the Celery node name
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = models.JSONField(default=list)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    # `namespaces`, or `process` when it runs runbooks uncontained
    # (STEWARD_SANDBOX=process): every page then says so.
    sandbox = models.CharField(max_length=16, default="namespaces")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Secret(models.Model):
    """A value a runbook gets as an environment variable of the same name.
    Stored encrypted (runbooks/crypto.py); never shown again once saved."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)  # [A-Z_][A-Z0-9_]*, see runbooks/secret_store.py
    description = models.CharField(max_length=500, blank=True)
    ciphertext = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)  # when the value or description last changed
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The runbooks that may declare it and get its value; nothing else can
    # (runbooks/secret_store.py). By row, not by slug: a renamed runbook
    # keeps its secrets, and a new runbook given the old slug gets none.
    allowed_runbooks = models.ManyToManyField("Runbook", blank=True, related_name="allowed_secrets")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Schedule(models.Model):
    """Run a runbook on a cron schedule, in a time zone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="schedules")
    cron = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC")  # "timezone" in the API
    parameters = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "events_schedule"  # moved from the events app; the table stays
        ordering = ["name"]

    def __str__(self):
        return self.name


class ScheduledRun(models.Model):
    """Which schedule started an execution (a row of its own, so an
    execution needs no column for it)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    execution = models.OneToOneField(Execution, on_delete=models.CASCADE, related_name="scheduled_run")
    slot = models.DateTimeField()

    class Meta:
        db_table = "events_scheduledrun"  # moved from the events app; the table stays

    def __str__(self):
        return f"{self.schedule_id} at {self.slot}"


class Target(models.Model):
    """A machine `ssh` runbooks run on. Its host key is pinned when it is
    added: a server presenting any other key is refused, never trusted on
    use. The credential is the name of a Secret holding a private key, scoped
    like every secret (the runbook must be allowed to use it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(max_length=255)  # a host name or an IP address
    port = models.PositiveIntegerField(default=22)
    user = models.CharField(max_length=64)
    labels = models.JSONField(default=dict, blank=True)  # str → str, for selectors
    host_key = models.TextField()  # OpenSSH public key line
    credential = models.CharField(max_length=100)  # a Secret's name
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
