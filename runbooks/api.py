"""REST API for runbooks, executions and secrets (/api/v1/runbooks/,
/executions/, /secrets/)."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from accounts.authentication import actor_of
from audit import trail
from core.drf import SLUG_PATTERN, UUID_PATTERN, CursorPagination, JSONObjectField, SlugsField, field_rule
from runbooks import approvals, review, runs, schedules, secret_store, validation, versions
from runbooks import parameters as params
from runbooks.filters import ExecutionFilter, RunbookFilter
from runbooks.logs import log_page
from runbooks.models import Execution, Network, Runbook, RunbookVersion, Schedule, Secret

MAX_SCRIPT = validation.MAX_SCRIPT


class RunbookSerializer(serializers.Serializer):
    slug = serializers.SlugField(
        max_length=64,
        required=False,
        validators=[UniqueValidator(Runbook.objects.all(), message="a runbook with this slug exists")],
    )
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list, max_length=20
    )
    team = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=RunbookVersion.Kind.choices)
    script = serializers.CharField(max_length=MAX_SCRIPT, trim_whitespace=False)
    parameters = JSONObjectField(required=False, default=dict)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=86400, required=False, default=300)
    secrets = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    queue = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # What the run may reach; empty keeps the current mode (a new runbook: none).
    network = serializers.ChoiceField(choices=Network.choices, required=False, allow_blank=True, default="")
    message = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True)
    # Run policy: part of the version's content, so a change is a new
    # version, reviewed on a protected runbook.
    max_attempts = serializers.IntegerField(min_value=1, max_value=10, required=False)
    retry_backoff_seconds = serializers.IntegerField(min_value=0, max_value=86400, required=False)
    retry_on = serializers.ListField(
        child=serializers.ChoiceField(choices=Runbook.RETRYABLE), required=False, max_length=3
    )
    concurrency_limit = serializers.IntegerField(min_value=0, max_value=1000, required=False)
    concurrency_key = serializers.CharField(max_length=200, required=False, allow_blank=True)
    on_concurrency_limit = serializers.ChoiceField(choices=Runbook.OnLimit.choices, required=False)
    requires_approval = serializers.BooleanField(required=False)
    # Review: a protected runbook's new versions wait for a second author.
    protected = serializers.BooleanField(required=False)
    # ssh runbooks: {selector, names, from_event, max_parallel, on_failure}.
    targets = JSONObjectField(required=False)
    # A Python runbook's libraries (PEP 508 lines), resolved into
    # `requirements_lock` when saved; the lock is read-only.
    requirements = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)

    # The rules are runbooks/validation.py's (the form's and the importer's
    # too); here each field's own rule runs beside DRF's type checks.
    def validate_concurrency_key(self, value):
        return field_rule(validation.concurrency_key, value)

    def validate_parameters(self, value):
        return field_rule(validation.parameters, value)

    def validate_secrets(self, value):
        return field_rule(validation.secret_names, value)

    def validate_network(self, value):
        if not value:
            return value
        runbook = self.instance
        latest = (runbook.pending_version or runbook.current_version) if runbook is not None else None
        request = self.context.get("request")
        user = request.user if request is not None else self.context.get("user")
        try:
            return validation.network(value, user, latest.network if latest else None)
        except validation.Refused as exc:
            if exc.kind == "forbidden" and request is not None:
                raise PermissionDenied(exc.message) from None
            raise ValidationError(exc.message) from None

    def validate_queue(self, value):
        return field_rule(validation.queue, value)

    def validate_requirements(self, value):
        kind = self.initial_data.get("kind") if isinstance(self.initial_data, dict) else None
        if kind is None and self.instance is not None and self.instance.current_version is not None:
            kind = self.instance.current_version.kind
        return field_rule(validation.requirements, value, kind)

    def validate(self, attrs):
        # Here, not in validate_secrets: the rule needs the runbook. The
        # runbook form and the importer validate through this serializer.
        if "secrets" in attrs:
            problems = secret_store.scope_problems(self.instance, attrs["secrets"])
            if problems:
                raise ValidationError({"secrets": problems})
        validation.runbook_targets(attrs, self.instance)  # a Refused answers 400 naming targets
        return attrs

    def to_representation(self, runbook):
        version = runbook.current_version
        return {
            "slug": runbook.slug,
            "name": runbook.name,
            "description": runbook.description,
            "tags": runbook.tags,
            "team": runbook.team,
            # The code and the run policy of the version in use (a pending
            # version's policy applies only once approved).
            **version.fields(),
            "version": version.number,
            "sha256": version.sha256,
            # The number of a version waiting for a second author, else null.
            "pending_version": runbook.pending_version.number if runbook.pending_version_id else None,
            "created_at": runbook.created_at,
            "updated_at": runbook.updated_at,
        }


class VersionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # Set when a second author took this version of a protected runbook into use.
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RunbookVersion
        fields = [
            "number",
            "sha256",
            "author",
            "message",
            "created_at",
            "approved_by",
            "approved_at",
            *RunbookVersion.CONTENT_FIELDS,
        ]


class VersionPagination(CursorPagination):
    ordering = "-number"


class ExecutionAcceptedSerializer(serializers.Serializer):
    execution = serializers.UUIDField()


class LogLineSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    t = serializers.DateTimeField()
    stream = serializers.ChoiceField(choices=["stdout", "stderr", "steward"])
    text = serializers.CharField()


class LogPageSerializer(serializers.Serializer):
    lines = LogLineSerializer(many=True)
    next = serializers.IntegerField()
    done = serializers.BooleanField()


class RunSerializer(serializers.Serializer):
    parameters = JSONObjectField(required=False, default=dict)


def _save(runbook: Runbook, data: dict, request, message: str) -> None:
    # A PATCH that leaves `secrets` out still makes a version declaring them:
    # SecretScopeError refuses under `secrets` (core/drf.py's handler).
    versions.save_runbook(runbook, data, actor_of(request), author=request.user, message=message)


class RunbookViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RunbookSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    queryset = Runbook.objects.select_related("current_version", "pending_version").filter(
        current_version__isnull=False
    )
    filterset_class = RunbookFilter
    role_actions = {
        "create": "edit_runbooks",
        "update": "edit_runbooks",
        "partial_update": "edit_runbooks",
        "run": "run",
        "approve_version": "approve_versions",
    }

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        message = data.pop("message", "") or "Created"
        runbook = Runbook(slug=data.pop("slug", ""))
        _save(runbook, data, self.request, message)
        serializer.instance = runbook

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        message = data.pop("message", "")
        runbook = serializer.instance
        # Loosening a protected runbook is refused in versions.save_runbook
        # (403), for this caller as for the pages and the importer.
        if "slug" in data:
            runbook.slug = data.pop("slug")
        _save(runbook, data, self.request, message)

    def get_serializer(self, *args, **kwargs):
        # PATCH and PUT both merge: fields left out keep the current version's values.
        if self.action in ("update", "partial_update"):
            kwargs["partial"] = True
        return super().get_serializer(*args, **kwargs)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = f"/api/v1/runbooks/{response.data['slug']}/"
        return response

    # The runbook list's filters do not apply to its versions.
    @extend_schema(responses=VersionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def versions(self, request, slug=None):
        runbook = self.get_object()
        paginator = VersionPagination()
        page = paginator.paginate_queryset(runbook.versions.select_related("author", "approved_by"), request, view=self)
        return paginator.get_paginated_response(VersionSerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={200: RunbookSerializer},
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version's number.")],
    )
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]{1,9})/approve")
    def approve_version(self, request, slug=None, number=None):
        """Take a protected runbook's pending version into use (an author
        other than the version's own)."""
        runbook = self.get_object()
        version = get_object_or_404(RunbookVersion.objects.select_related("author"), runbook=runbook, number=number)
        # ReviewRefused: 409 or 403 by its kind (core/drf.py's handler).
        runbook = review.approve_version(runbook, version, request.user, actor_of(request), request=request)
        return Response(RunbookSerializer(runbook).data)

    @extend_schema(request=RunSerializer, responses={202: ExecutionAcceptedSerializer})
    @action(detail=True, methods=["post"], serializer_class=RunSerializer)
    def run(self, request, slug=None):
        runbook = self.get_object()
        body = RunSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        try:
            execution = runs.request_run(
                runbook, body.validated_data["parameters"], request.user, actor_of(request), request=request
            )
        except params.ParameterError as exc:
            raise ValidationError({"parameters": [str(exc)]}) from None
        return Response({"execution": str(execution.id)}, status=status.HTTP_202_ACCEPTED)


class ExecutionSerializer(serializers.ModelSerializer):
    runbook = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    sha256 = serializers.CharField(source="version.sha256", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "runbook",
            "version",
            "sha256",
            "status",
            "parameters",
            "event",
            "binding",
            "requested_by",
            "decision",
            "decided_by",
            "decided_at",
            "decision_reason",
            "attempt",
            "retry_of",
            "rerun_of",
            "created_at",
            "started_at",
            "finished_at",
            "exit_code",
            "result",
            "error",
            "network",  # the network the run had ("" before it ran)
        ]


class ApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ExecutionSerializer
    lookup_value_regex = UUID_PATTERN
    queryset = Execution.objects.select_related("runbook", "version", "requested_by", "decided_by")
    filterset_class = ExecutionFilter
    role_actions = {"cancel": "cancel", "rerun": "run", "approve": "approve", "reject": "approve"}

    @extend_schema(responses=LogPageSerializer)
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        execution = get_object_or_404(Execution.objects.only("id", "status"), pk=pk)
        try:
            after = max(0, int(request.query_params.get("after", 0)))
        except ValueError:
            raise ValidationError({"after": ["must be an integer"]}) from None
        return Response(log_page(execution, after))

    @extend_schema(request=None, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = self.get_object()
        if not runs.cancel(execution, actor_of(request), request=request):
            return Response(
                {"detail": f"The execution already ended ({execution.status})."}, status=status.HTTP_409_CONFLICT
            )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ExecutionAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        """A new execution of the same version with the same parameters."""
        original = self.get_object()
        execution = runs.rerun(original, request.user, actor_of(request), request=request)  # RerunRefused: 409
        return Response({"execution": str(execution.id)}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=ApproveSerializer,
        responses={202: ExecutionSerializer},
    )
    @action(detail=True, methods=["post"], serializer_class=ApproveSerializer)
    def approve(self, request, pk=None):
        """Start a run awaiting approval (a responder other than its requester)."""
        return self._decide(request, ApproveSerializer, approvals.approve, status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=RejectSerializer,
        responses={200: ExecutionSerializer},
    )
    @action(detail=True, methods=["post"], serializer_class=RejectSerializer)
    def reject(self, request, pk=None):
        """Refuse a run awaiting approval, with a reason; it never starts."""
        return self._decide(request, RejectSerializer, approvals.reject, status.HTTP_200_OK)

    def _decide(self, request, body_class, decide, success_status):
        execution = self.get_object()
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        # ApprovalRefused: 409, 403 or 400 by its kind (core/drf.py's handler).
        execution = decide(execution, request.user, actor_of(request), body.validated_data["reason"], request=request)
        return Response(ExecutionSerializer(execution).data, status=success_status)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 100, "pattern": secret_store.NAME.pattern})
class SecretNameField(serializers.CharField):
    """secret_store checks the name (validate_name); the schema says the same pattern."""


class SecretSerializer(serializers.ModelSerializer):
    """`{name, value, description, allowed_runbooks: [slug]}`; the value is
    write-only: no answer ever holds it, not even the one to its creation.
    Only an admin sets `allowed_runbooks` (secret_store.ScopeRefused: 403)."""

    value = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=secret_store.MAX_VALUE_LENGTH, required=True
    )
    name = SecretNameField(max_length=100)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    allowed_runbooks = SlugsField(slug_field="slug", many=True, queryset=Runbook.objects.all(), required=False)

    class Meta:
        model = Secret
        fields = ["id", "name", "value", "description", "allowed_runbooks", "created_at", "updated_at", "updated_by"]
        read_only_fields = ["id", "created_at", "updated_at", "updated_by"]
        # Uniqueness is checked in validate_name, with a clearer message.
        extra_kwargs = {"name": {"validators": []}}

    def validate_name(self, value):
        if self.instance is not None:
            if value != self.instance.name:
                raise ValidationError("a secret's name cannot change: runbooks use it; create a new secret")
            return value
        problem = secret_store.name_problem(value)
        if problem:
            raise ValidationError(problem)
        if Secret.objects.filter(name=value).exists():
            raise ValidationError("a secret with this name exists; send a new value to replace it", code="unique")
        return value


class SecretViewSet(viewsets.ModelViewSet):
    serializer_class = SecretSerializer
    queryset = Secret.objects.select_related("updated_by").prefetch_related("allowed_runbooks")
    lookup_value_regex = UUID_PATTERN
    role_actions = {
        "create": "manage_secrets",
        "update": "manage_secrets",
        "partial_update": "manage_secrets",
        "destroy": "manage_secrets",
    }

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = secret_store.create(
            data["name"],
            data["value"],
            data.get("description", ""),
            actor_of(self.request),
            user=self.request.user,
            request=self.request,
            allowed_runbooks=data.get("allowed_runbooks"),
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = secret_store.update(
            serializer.instance,
            actor_of(self.request),
            value=data.get("value"),
            description=data.get("description"),
            user=self.request.user,
            request=self.request,
            allowed_runbooks=data.get("allowed_runbooks"),
        )

    def perform_destroy(self, instance):
        secret_store.delete(instance, actor_of(self.request), request=self.request)

    def get_serializer(self, *args, **kwargs):
        # PATCH and PUT both merge: a description alone leaves the value as it is.
        if self.action in ("update", "partial_update"):
            kwargs["partial"] = True
        return super().get_serializer(*args, **kwargs)


class ScheduleSerializer(serializers.ModelSerializer):
    runbook = serializers.SlugRelatedField(
        slug_field="slug", queryset=Runbook.objects.filter(current_version__isnull=False)
    )
    timezone = serializers.CharField(source="time_zone", max_length=64, required=False, default="UTC")
    parameters = JSONObjectField(required=False, default=dict)
    next_runs = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "runbook",
            "cron",
            "timezone",
            "parameters",
            "enabled",
            "next_run_at",
            "last_run_at",
            "next_runs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "next_run_at", "last_run_at", "created_at", "updated_at"]

    def get_next_runs(self, schedule) -> list[str]:
        """A preview of the next five runs, in UTC."""
        if not schedule.enabled:
            return []
        return [t.isoformat() for t in schedules.next_runs(schedule.cron, schedule.time_zone, timezone.now())]

    def validate(self, data):
        cron = data.get("cron", getattr(self.instance, "cron", ""))
        tz = data.get("time_zone", getattr(self.instance, "time_zone", "UTC"))
        schedules.check(cron, tz)  # ScheduleError names its field: a 400 from core/drf.py's handler
        runbook = data.get("runbook", getattr(self.instance, "runbook", None))
        parameters = data.get("parameters", getattr(self.instance, "parameters", {}))
        try:
            params.validate(runbook.current_version.parameters, parameters)
        except params.ParameterError as exc:
            raise ValidationError({"parameters": [str(exc)]}) from None
        return data


class ScheduleViewSet(viewsets.ModelViewSet):
    serializer_class = ScheduleSerializer
    queryset = Schedule.objects.select_related("runbook")
    lookup_value_regex = UUID_PATTERN
    role_actions = {
        "create": "manage_schedules",
        "update": "manage_schedules",
        "partial_update": "manage_schedules",
        "destroy": "manage_schedules",
    }

    def _save(self, serializer, action: str, before=None):
        with transaction.atomic():
            schedule = serializer.save()
            # The next slot from now: a schedule (re-)enabled late does not
            # run for the slots it missed while off.
            schedule.next_run_at = schedules.next_run(schedule, timezone.now()) if schedule.enabled else None
            schedule.save(update_fields=["next_run_at"])
            trail.record(
                actor_of(self.request),
                trail.Change(action, "schedule", schedule.pk, before=before, after=ScheduleSerializer(schedule).data),
                request=self.request,
            )

    def perform_create(self, serializer):
        self._save(serializer, "schedule.created")

    def perform_update(self, serializer):
        self._save(serializer, "schedule.updated", before=ScheduleSerializer(serializer.instance).data)

    def perform_destroy(self, instance):
        with transaction.atomic():
            trail.record(
                actor_of(self.request),
                trail.Change("schedule.deleted", "schedule", instance.pk, before=ScheduleSerializer(instance).data),
                request=self.request,
            )
            instance.delete()
