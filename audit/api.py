"""REST API for the audit trail (/api/v1/audit/): read, verify, export, and
the signed checkpoints with their Merkle proofs (RFC 9162)."""

import base64

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.response import Response

from audit import checkpoints, checks, merkle, trail
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


class CheckpointSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="its file's name in STEWARD_AUDIT_CHECKPOINT_DIR")
    origin = serializers.CharField()
    size = serializers.IntegerField(help_text="entries the Merkle tree covers (seq 1..size)")
    root = serializers.CharField(source="root_base64", help_text="base64 of the RFC 9162 root hash")
    written_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(help_text="the C2SP signed note, signature line included")


class CheckpointListSerializer(serializers.Serializer):
    results = CheckpointSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class InclusionProofSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf_index = serializers.IntegerField(help_text="seq - 1")
    tree_size = serializers.IntegerField()
    entry_hash = serializers.CharField(help_text="hex; the leaf is SHA-256(0x00 || bytes of it)")
    leaf_hash = serializers.CharField(help_text="hex")
    root = serializers.CharField(help_text="base64, as in a checkpoint")
    proof = serializers.ListField(child=serializers.CharField(), help_text="hex hashes, leaf side first")


# "from" and "to" are Python keywords: the class is built from a dict.
ConsistencyProofSerializer = type(
    "ConsistencyProofSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.IntegerField(),
        "to": serializers.IntegerField(),
        "first_root": serializers.CharField(help_text="base64"),
        "second_root": serializers.CharField(help_text="base64"),
        "proof": serializers.ListField(child=serializers.CharField(), help_text="hex hashes (RFC 9162 2.1.4)"),
    },
)


SIZE = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}


def _size(request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ParseError(f"{name}: required, a tree size")
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise ParseError(f"{name}: a tree size is a whole number, not {raw[:40]!r}")
    return int(raw)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class TrailBroken(APIException):
    status_code = 409
    default_detail = "the trail has a gap: audit_verify shows where"


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

    @extend_schema(
        parameters=[OpenApiParameter("page_size", int, description="at most 500 (default 50)")],
        responses={200: CheckpointListSerializer},
    )
    @action(detail=False, methods=["get"])
    def checkpoints(self, request):
        """The signed checkpoints (C2SP signed notes), newest first, as the
        folder holds them; check them with the public key
        (`audit_verify --checkpoints DIR --public-key FILE`)."""
        limit = min(_size(request, "page_size", 50) or 50, 500)
        try:
            found = checkpoints.read_dir(self._folder()) if self._folder() else []
        except checkpoints.CheckpointError as exc:
            return Response({"detail": str(exc)}, status=503)
        newest = list(reversed(found))[:limit]
        return Response({"results": CheckpointSerializer(newest, many=True).data, "next": None, "previous": None})

    @staticmethod
    def _folder():
        return settings.STEWARD_AUDIT_CHECKPOINT_DIR

    @extend_schema(
        parameters=[OpenApiParameter("size", SIZE, description="the tree size (a checkpoint's); default: all entries")],
        responses={200: InclusionProofSerializer},
    )
    @action(detail=True, methods=["get"])
    def proof(self, request, seq=None):
        """The RFC 9162 inclusion proof of this entry in the tree of the
        first `size` entries (2.1.3: verify it against a checkpoint's root)."""
        entry = self.get_object()
        tree = checkpoints.tree_size()
        size = _size(request, "size", tree)
        if size < 1:
            raise ParseError("size: a tree size is at least 1")
        if not entry.seq <= size <= tree:
            # Well-formed, but no such tree holds this entry: as for a seq that does not exist.
            raise NotFound(f"size: between this entry's seq ({entry.seq}) and the trail's size ({tree})")
        leaves = self._leaves(size)
        proof = merkle.inclusion_proof(entry.seq - 1, leaves)
        return Response(
            {
                "seq": entry.seq,
                "leaf_index": entry.seq - 1,
                "tree_size": size,
                "entry_hash": entry.hash,
                "leaf_hash": leaves[entry.seq - 1].hex(),
                "root": _b64(merkle.root(leaves)),
                "proof": [p.hex() for p in proof],
            }
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("from", SIZE, required=True, description="the smaller tree size"),
            OpenApiParameter("to", SIZE, description="the bigger tree size; default: all entries"),
        ],
        responses={200: ConsistencyProofSerializer},
    )
    @action(detail=False, methods=["get"])
    def consistency(self, request):
        """The RFC 9162 consistency proof that the tree of `to` entries
        extends the tree of `from` entries (2.1.4): two checkpoints' sizes."""
        tree = checkpoints.tree_size()
        first, second = _size(request, "from"), _size(request, "to", tree)
        if first < 1 or second < 1:
            raise ParseError("from, to: a tree size is at least 1")
        if not first <= second <= tree:
            raise NotFound(f"from, to: no such pair of trees; from <= to <= the trail's size ({tree})")
        leaves = self._leaves(second)
        return Response(
            {
                "from": first,
                "to": second,
                "first_root": _b64(merkle.root(leaves[:first])),
                "second_root": _b64(merkle.root(leaves)),
                "proof": [p.hex() for p in merkle.consistency_proof(first, leaves)],
            }
        )

    @staticmethod
    def _leaves(size):
        try:
            return checkpoints.leaves_from_db(size)
        except checkpoints.CheckpointError as exc:  # a gap in the trail: verify shows where
            raise TrailBroken(f"the trail cannot prove this: {exc}") from exc

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Every entry as JSON lines, oldest first; verify offline with
        `manage.py audit_verify --file FILE`."""
        response = StreamingHttpResponse(trail.export_lines(), content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="steward-audit.jsonl"'
        return response
