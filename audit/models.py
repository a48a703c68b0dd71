"""The append-only, hash-chained audit trail.

Each entry's hash covers its own content and the previous entry's hash, so
changing or removing any entry breaks every hash after it. The app never
updates or deletes an entry; on PostgreSQL a trigger refuses it too.
"""

from django.db import models


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit entry."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16)  # user, token, source, system
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # The audit list's filters, newest first (audit/filters.py).
            models.Index(fields=["actor", "-seq"]),
            models.Index(fields=["-at"]),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted.")


class ChainHead(models.Model):
    """One row: the last sequence number and hash. Appending locks it, which
    orders concurrent writers so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self):
        return f"head #{self.seq}"


class ChainCheck(models.Model):
    """One verification of the chain, walked in chunks by the requests that
    go on with it (audit/checks.py), never in one long transaction. It
    covers the entries up to the head as it was when the check began."""

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        BROKEN = "broken"

    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=150)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    checked = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
    broken_seq = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["-started_at"])]

    def __str__(self):
        return f"chain check {self.pk}: {self.status} {self.checked}/{self.head_seq}"
