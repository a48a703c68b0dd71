"""REST API for gates (/api/v1/gates/) and their checks.

POST /api/v1/gates/{name}/checks/?wait=<seconds>  {"service": ..., "version": ..., ...}
  → 200 {"id", "verdict", "reasons", "executions", ...} once decided,
    else 202 with "verdict": null and the "url" to poll.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from accounts.authentication import actor_of
from audit import trail
from core.drf import SLUG_PATTERN, UUID_PATTERN, CursorPagination, SlugsField
from gates import services
from gates.models import Check, Gate
from runbooks.models import Runbook
from runbooks.parameters import ParameterError


class GateSerializer(serializers.ModelSerializer):
    name = serializers.SlugField(
        max_length=64, validators=[UniqueValidator(Gate.objects.all(), message="a gate with this name exists")]
    )
    runbooks = SlugsField(slug_field="slug", many=True, queryset=Runbook.objects.filter(current_version__isnull=False))
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=86400, required=False, default=600)

    class Meta:
        model = Gate
        fields = ["name", "description", "runbooks", "timeout_seconds", "on_timeout", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class CheckSerializer(serializers.ModelSerializer):
    gate = serializers.SlugRelatedField(slug_field="name", read_only=True)
    executions = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    overridden_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Check
        fields = [
            "id",
            "gate",
            "verdict",
            "reasons",
            "executions",
            "fields",
            "created_at",
            "decided_at",
            "overridden_by",
            "override_reason",
            "url",
        ]

    def get_executions(self, check) -> list[str]:
        return [str(pk) for pk in check.executions.order_by("runbook__slug").values_list("pk", flat=True)]

    def get_url(self, check) -> str:
        return f"/api/v1/gates/{check.gate.name}/checks/{check.pk}/"


class OverrideSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Check.Verdict.choices)
    reason = serializers.CharField(max_length=1000)


class CheckPagination(CursorPagination):
    ordering = ("-created_at", "-pk")  # -pk: one order among rows of one time


WAIT = OpenApiParameter(
    "wait",
    {"type": "number", "minimum": 0, "maximum": services.MAX_WAIT_SECONDS},
    description=f"seconds to hold the answer for the verdict (≤ {services.MAX_WAIT_SECONDS})",
)


def wait_seconds(request) -> float:
    """`?wait=`: how long to hold the answer, 0 to 60 seconds; anything
    else is a 400 (asking a check and reading one say the same)."""
    raw = request.query_params.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= services.MAX_WAIT_SECONDS:  # NaN fails this too
        raise ValidationError({"wait": [f"seconds, from 0 to {services.MAX_WAIT_SECONDS}"]})
    return wait


class GateViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GateSerializer
    queryset = Gate.objects.prefetch_related("runbooks")
    lookup_field = "name"
    lookup_value_regex = SLUG_PATTERN
    # Asking a gate runs its runbooks; reading checks needs only a viewer.
    role_actions = {
        "create": "manage_gates",
        "update": "manage_gates",
        "partial_update": "manage_gates",
        "checks": "run",
        "override": "override_gates",
    }

    def perform_create(self, serializer):
        gate = serializer.save()
        self._audit("gate.created", gate, None, serializer.data)

    def perform_update(self, serializer):
        before = GateSerializer(serializer.instance).data
        gate = serializer.save()
        self._audit("gate.updated", gate, before, serializer.data)

    def _audit(self, action, gate, before, after):
        with transaction.atomic():
            trail.record(
                actor_of(self.request),
                trail.Change(action, "gate", gate.name, before=before, after=after),
                request=self.request,
            )

    @extend_schema(methods=["GET"], responses=CheckSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        parameters=[WAIT],
        request=OpenApiTypes.OBJECT,
        responses={200: CheckSerializer, 202: CheckSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def checks(self, request, name=None):
        gate = self.get_object()
        if request.method == "GET":
            paginator = CheckPagination()
            page = paginator.paginate_queryset(gate.checks.select_related("gate", "overridden_by"), request, view=self)
            return paginator.get_paginated_response(CheckSerializer(page, many=True).data)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": ["send a JSON object: what you are about to ship"]})
        wait = wait_seconds(request)
        try:
            check = services.ask(gate, dict(request.data), request.user, actor_of(request), request=request)
        except ParameterError as exc:
            raise ValidationError({"fields": [str(exc)]}) from None
        check = services.wait(check, wait) if wait else services.refresh(check)
        return Response(
            CheckSerializer(check).data, status=status.HTTP_200_OK if check.verdict else status.HTTP_202_ACCEPTED
        )

    @extend_schema(parameters=[WAIT], responses={200: CheckSerializer, 202: CheckSerializer})
    @action(detail=True, methods=["get"], url_path=rf"checks/(?P<check_id>{UUID_PATTERN})")
    def check(self, request, name=None, check_id=None):
        check = get_object_or_404(Check.objects.select_related("gate"), pk=check_id, gate__name=name)
        wait = wait_seconds(request)
        check = services.wait(check, wait) if wait else services.refresh(check)
        return Response(
            CheckSerializer(check).data, status=status.HTTP_200_OK if check.verdict else status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=OverrideSerializer, responses=CheckSerializer)
    @action(detail=True, methods=["post"], url_path=rf"checks/(?P<check_id>{UUID_PATTERN})/override")
    def override(self, request, name=None, check_id=None):
        check = get_object_or_404(Check.objects.select_related("gate"), pk=check_id, gate__name=name)
        body = OverrideSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        check = services.override(
            check,
            body.validated_data["verdict"],
            body.validated_data["reason"],
            request.user,
            actor_of(request),
            request=request,
        )
        return Response(CheckSerializer(check).data)
