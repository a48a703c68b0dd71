"""REST API for sources, bindings and events (/api/v1/sources/, ...)."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from accounts.authentication import actor_of
from audit import trail
from core import storable
from core.drf import (
    SLUG_PATTERN,
    UUID_PATTERN,
    CursorPagination,
    JSONListField,
    JSONObjectField,
    field_rule,
)
from core.errors import Refused
from events import backtest, breaker, samples, services, validation
from events.filters import BindingFilter, EventFilter, SourceFilter
from events.models import Binding, DedupEntry, Event, Source
from events.sources import ADAPTERS, generic
from runbooks.models import Execution, Runbook


class StrictJSONParser(JSONParser):
    """DRF's parser, also refusing (400, not 500) JSON nested so deep that
    the decoder recurses out of stack, and strings no database stores (NUL,
    lone surrogates): bindings and tester events are matched and rendered."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {storable.MAX_DEPTH} levels") from None
        try:
            storable.check(data, "the request")
        except storable.NotStorable as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data


def webhook_url(source: Source) -> str:
    return source.webhook_url()


class SourceSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(
        max_length=64,
        required=False,
        validators=[UniqueValidator(Source.objects.all(), message="a source with this slug exists")],
    )
    name = serializers.CharField(
        max_length=100,
        validators=[
            # Case-insensitive, as the database's constraint (source_name_unique_ci).
            UniqueValidator(Source.objects.all(), lookup="iexact", message="a source with this name exists")
        ],
    )
    kind = serializers.ChoiceField(choices=sorted(ADAPTERS))
    webhook_url = serializers.SerializerMethodField()
    mapping = JSONObjectField(required=False)
    preset = serializers.ChoiceField(choices=["", *sorted(generic.PRESETS)], required=False, allow_blank=True)
    # Write-only: it goes in, encrypted, and never comes back out.
    signing_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, min_length=16, max_length=255
    )
    has_signing_secret = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "slug",
            "name",
            "kind",
            "rate_limit_per_minute",
            "mapping",
            "preset",
            "signing_secret",
            "has_signing_secret",
            "webhook_url",
            "previous_token_expires_at",
            "created_at",
        ]
        read_only_fields = ["created_at", "previous_token_expires_at"]

    def get_has_signing_secret(self, source) -> bool:
        return bool(source.signing_secret_encrypted)

    def get_webhook_url(self, source) -> str:
        return webhook_url(source)

    def validate_mapping(self, value):
        return field_rule(validation.source_mapping, value)

    def validate(self, attrs):
        try:
            validation.source_kind(attrs, self.instance)
        except Refused as exc:
            raise ValidationError(exc.by_field()) from None
        return attrs


class SourceWithTokenSerializer(SourceSerializer):
    """A source as created or rotated: the only answers holding its token."""

    token = serializers.CharField(read_only=True)

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "token"]


class RotateTokenSerializer(serializers.Serializer):
    grace_minutes = serializers.IntegerField(
        min_value=0,
        max_value=services.MAX_GRACE_MINUTES,
        default=services.DEFAULT_GRACE_MINUTES,
        help_text="How long the old token keeps working; 0 stops it at once.",
    )


class SourceViewSet(viewsets.ModelViewSet):
    serializer_class = SourceSerializer
    parser_classes = [StrictJSONParser]
    queryset = Source.objects.all()
    filterset_class = SourceFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    role_actions = {
        "create": "manage_sources",
        "update": "manage_sources",
        "partial_update": "manage_sources",
        "rotate_token": "manage_sources",
        "destroy": "delete_sources",
    }

    def perform_create(self, serializer):
        # SourceTaken (a race the validators lost) is a 409, as a taken name is.
        serializer.instance, self._token = services.create_source(
            serializer.validated_data, actor_of(self.request), request=self.request
        )

    def perform_update(self, serializer):
        before = SourceSerializer(serializer.instance).data
        with transaction.atomic():
            serializer.save()
            after = dict(serializer.data)
            if "signing_secret" in serializer.validated_data:
                after["signing_secret_changed"] = True  # the audit says so, never the secret
            trail.record(
                actor_of(self.request),
                trail.Change("source.updated", "source", serializer.instance.slug, before=before, after=after),
            )

    def perform_destroy(self, instance):
        """Its events and runs stay; see services.delete_source."""
        services.delete_source(instance, actor_of(self.request), request=self.request)

    @extend_schema(responses={201: SourceWithTokenSerializer})
    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response.data["token"] = self._token  # shown here and never again
        return response

    @extend_schema(request=RotateTokenSerializer, responses=SourceWithTokenSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request, slug=None):
        """A new token, shown in this answer only; the old one keeps working
        for `grace_minutes` (default 60), then only the new one does."""
        source = self.get_object()
        body = RotateTokenSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        token = services.rotate_source_token(
            source, actor_of(request), grace_minutes=body.validated_data["grace_minutes"], request=request
        )
        return Response({**SourceSerializer(source).data, "token": token})


@extend_schema_field({"type": "string", "nullable": True, "maxLength": 64})
class OptionalSourceField(serializers.SlugRelatedField):
    """A source's slug, or null (or "", which DRF reads as null): any source."""


class BindingSerializer(serializers.ModelSerializer):
    source = OptionalSourceField(slug_field="slug", queryset=Source.objects.all(), allow_null=True, required=False)
    runbook = serializers.SlugRelatedField(
        slug_field="slug", queryset=Runbook.objects.filter(current_version__isnull=False)
    )
    match = JSONListField(required=False)
    parameters = JSONObjectField(required=False)

    class Meta:
        model = Binding
        fields = [
            "id",
            "name",
            "source",
            "match",
            "on_status",
            "runbook",
            "parameters",
            "dedup_window_seconds",
            "dedup_key",
            "cancel_on_resolve",
            "breaker_failures",
            "breaker_window_minutes",
            "tripped_at",
            "tripped_reason",
            "requires_approval",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "tripped_at", "tripped_reason", "created_at", "updated_at"]
        extra_kwargs = {
            # Also in events/validation.py; here they reach the OpenAPI schema.
            "dedup_window_seconds": {"max_value": DedupEntry.MAX_WINDOW_SECONDS},
            "breaker_window_minutes": {
                "min_value": validation.BREAKER_WINDOW_MINUTES[0],
                "max_value": validation.BREAKER_WINDOW_MINUTES[1],
            },
            "breaker_failures": {"max_value": validation.BREAKER_FAILURES_MAX},
        }

    # The binding rules are events/validation.py's, the page's too. Those of
    # one field run per field, so a request hears of them beside the type
    # errors of other fields; validate() runs all of them on the whole.
    def validate_match(self, value):
        return field_rule(validation.match, value)

    def validate_parameters(self, value):
        return field_rule(validation.templates, value, "parameters")

    def validate_dedup_key(self, value):
        return field_rule(validation.templates, value, "dedup_key") if value else value

    def validate(self, attrs):
        try:
            return validation.binding(attrs)
        except Refused as exc:
            raise ValidationError(exc.by_field()) from None


class BacktestSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, default=7)


class BacktestResultSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    events = serializers.IntegerField()
    truncated = serializers.BooleanField()
    matched = serializers.IntegerField()
    would_run = serializers.IntegerField()
    deduplicated = serializers.IntegerField()
    not_matched = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.DictField())


class BindingTestRequestSerializer(serializers.Serializer):
    """Documentation of `bindings/test/`: an inline event or a stored one
    (one of the two). The source (a slug, here or as the event's `source`) is
    the one the event comes from: a binding of another source does not match it."""

    event = serializers.DictField(required=False)
    event_id = serializers.UUIDField(required=False)
    source = serializers.SlugField(required=False, allow_null=True)  # null: the event's own, if any


class BindingTestResultSerializer(serializers.Serializer):
    binding = serializers.UUIDField()
    name = serializers.CharField()
    matched = serializers.BooleanField()
    reason = serializers.CharField()
    parameters = serializers.DictField(allow_null=True)
    error = serializers.CharField()


class BindingTestResultsSerializer(serializers.Serializer):
    results = BindingTestResultSerializer(many=True)


class BindingViewSet(viewsets.ModelViewSet):
    serializer_class = BindingSerializer
    parser_classes = [StrictJSONParser]
    queryset = Binding.objects.select_related("source", "runbook")
    filterset_class = BindingFilter
    lookup_value_regex = UUID_PATTERN
    # `test` and `backtest` are POSTs that change nothing: reading is enough.
    role_actions = {
        "create": "manage_bindings",
        "update": "manage_bindings",
        "partial_update": "manage_bindings",
        "destroy": "manage_bindings",
        "reset": "manage_bindings",
        "test": "read",
        "backtest": "read",
    }

    def perform_create(self, serializer):
        serializer.instance = services.save_binding(
            None, serializer.validated_data, actor_of(self.request), request=self.request
        )

    def perform_update(self, serializer):
        serializer.instance = services.save_binding(
            serializer.instance, serializer.validated_data, actor_of(self.request), request=self.request
        )

    def perform_destroy(self, instance):
        """Its runs stay, with no binding; see services.delete_binding."""
        services.delete_binding(instance, actor_of(self.request), request=self.request)

    @extend_schema(request=BindingTestRequestSerializer, responses=BindingTestResultsSerializer)
    @action(detail=False, methods=["post"])
    def test(self, request):
        return Response({"results": services.test_bindings(samples.tested_document(request.data))})

    @extend_schema(request=None, responses={200: BindingSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reset(self, request, pk=None):
        """Close a tripped circuit breaker: the binding runs again."""
        binding = self.get_object()
        if not breaker.reset(binding, actor_of(request), request=request):
            return Response({"detail": "This binding is not tripped."}, status=409)
        return Response(BindingSerializer(binding).data)

    @extend_schema(request=BacktestSerializer, responses=BacktestResultSerializer)
    @action(detail=True, methods=["post"], serializer_class=BacktestSerializer)
    def backtest(self, request, pk=None):
        body = BacktestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        return Response(backtest.backtest(self.get_object(), body.validated_data["days"]))


class EventSerializer(serializers.ModelSerializer):
    # Null once the source is deleted (the event stays).
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    executions = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "source",
            "received_at",
            "status",
            "name",
            "severity",
            "fingerprint",
            "summary",
            "labels",
            "annotations",
            "payload",
            "executions",
            "suppressed_reason",
        ]

    def get_executions(self, event) -> list[str]:
        return [str(x.pk) for x in event.executions.all()]


class EventPagination(CursorPagination):
    ordering = ("-received_at", "-pk")  # -pk: one order among rows of one time


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = EventSerializer
    lookup_value_regex = UUID_PATTERN
    pagination_class = EventPagination
    filterset_class = EventFilter
    queryset = Event.objects.select_related("source").prefetch_related(
        Prefetch("executions", queryset=Execution.objects.only("id", "event_id"))
    )
