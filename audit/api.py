"""REST API for the audit trail (/api/v1/audit/): read, verify, export."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit import checks, trail
from audit.filters import AuditFilter
from audit.models import AuditEntry, ChainCheck
from core.drf import CursorPagination


class AuditSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "seq",
            "at",
            "actor_kind",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "request_id",
            "client_ip",
            "prev_hash",
            "hash",
        ]


class ChainCheckSerializer(serializers.ModelSerializer):
    ok = serializers.SerializerMethodField()
    count = serializers.IntegerField(source="checked", help_text="entries checked so far")
    total = serializers.IntegerField(source="head_seq", help_text="entries this check covers")

    class Meta:
        model = ChainCheck
        fields = [
            "id",
            "status",
            "ok",
            "count",
            "total",
            "broken_seq",
            "problem",
            "requested_by",
            "started_at",
            "finished_at",
        ]

    def get_ok(self, check) -> bool | None:
        return None if check.status == ChainCheck.Status.RUNNING else check.status == ChainCheck.Status.OK


class AuditPagination(CursorPagination):
    ordering = "-seq"


class AuditViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditSerializer
    pagination_class = AuditPagination
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]+"

    queryset = AuditEntry.objects.all()
    filterset_class = AuditFilter

    role_actions = {"verify": "verify_audit"}

    @extend_schema(request=None, responses={200: ChainCheckSerializer, 202: ChainCheckSerializer})
    @action(detail=False, methods=["post"])
    def verify(self, request):
        """Walk the chain for up to a few seconds (admins only). 200 with
        status ok or broken once the check is done; 202 with status running
        and how far it got: POST again to go on from there."""
        check = checks.verify(trail.user_actor(request.user))
        status = 202 if check.status == ChainCheck.Status.RUNNING else 200
        return Response(ChainCheckSerializer(check).data, status=status)

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Every entry as JSON lines, oldest first; verify offline with
        `manage.py audit_verify --file FILE`."""
        response = StreamingHttpResponse(trail.export_lines(), content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="steward-audit.jsonl"'
        return response
