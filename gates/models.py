"""Deployment gates: a pipeline asks whether a change may ship, and the
gate's runbooks judge it."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Gate(models.Model):
    class OnTimeout(models.TextChoices):
        FAIL = "fail"
        PASS = "pass"

    name = models.SlugField(max_length=64, unique=True)  # the gate's slug, in its URL
    description = models.TextField(blank=True)
    runbooks = models.ManyToManyField("runbooks.Runbook", related_name="gates")
    timeout_seconds = models.PositiveIntegerField(default=600)
    on_timeout = models.CharField(max_length=8, choices=OnTimeout.choices, default=OnTimeout.FAIL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Check(models.Model):
    """One question of a pipeline: may this change ship through this gate?"""

    class Verdict(models.TextChoices):
        PASS = "pass"
        FAIL = "fail"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="checks")
    fields = models.JSONField(default=dict)  # what the pipeline sent: service, version, environment...
    # NULL while undecided, as the API shows it (the contract's "verdict": null).
    verdict = models.CharField(max_length=8, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001
    reasons = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    override_reason = models.TextField(blank=True)
    executions = models.ManyToManyField("runbooks.Execution", related_name="gate_checks")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["gate", "-created_at"])]

    def __str__(self):
        return f"{self.gate_id} {self.verdict or 'pending'}"
