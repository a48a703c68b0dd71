"""REST API for the audit trail (/api/v1/audit/): read, verify, export."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit import trail
from audit.filters import AuditFilter
from audit.models import AuditEntry
from config.api import CursorPagination


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


class VerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    broken_seq = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


class AuditPagination(CursorPagination):
    ordering = "-seq"


class AuditViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditSerializer
    pagination_class = AuditPagination
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]+"

    queryset = AuditEntry.objects.all()
    filterset_class = AuditFilter

    @extend_schema(responses=VerificationSerializer)
    @action(detail=False, methods=["get"])
    def verify(self, request):
        result = trail.verify()
        return Response(
            {"ok": result.ok, "count": result.count, "broken_seq": result.broken_seq, "problem": result.problem}
        )

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Every entry as JSON lines, oldest first; verify offline with
        `manage.py audit_verify --file FILE`."""
        response = StreamingHttpResponse(trail.export_lines(), content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="steward-audit.jsonl"'
        return response
