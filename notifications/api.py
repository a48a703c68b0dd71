"""REST API for notifications (/api/v1/channels/, /subscriptions/, /deliveries/).

Admins manage channels and subscriptions; every role may read them and the
deliveries. Secrets (a Slack URL, a routing key, a signing secret) go in and
never come out: a webhook channel's signing secret, when Steward makes it
up, is in the answer that creates the channel and nowhere else.
"""

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from accounts.authentication import actor_of
from core.drf import SLUG_PATTERN, UUID_PATTERN
from core.errors import Refused
from core.filtering import NO_NUL
from events.models import Binding
from gates.models import Gate
from notifications import channels, validation
from notifications.models import Channel, Delivery, EventKind, Kind, Subscription
from runbooks.models import Runbook


class ChannelSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(
        max_length=64,
        required=False,
        validators=[UniqueValidator(Channel.objects.all(), message="a channel with this slug exists")],
    )
    kind = serializers.ChoiceField(choices=Kind.choices)
    # Where it goes. `url` is read back for webhooks only, without credentials.
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, max_length=channels.MAX_RECIPIENTS
    )
    routing_key = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=64)
    signing_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=255, trim_whitespace=False
    )
    target = serializers.CharField(read_only=True)
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "slug",
            "name",
            "kind",
            "url",
            "recipients",
            "routing_key",
            "signing_secret",
            "target",
            "has_secret",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_has_secret(self, channel) -> bool:
        return bool(channel.secret_encrypted)

    def to_representation(self, channel):
        data = super().to_representation(channel)
        # A Slack URL is its secret; a webhook's may carry credentials in
        # user:password@ or its query: shown without them.
        data["url"] = channel.target if channel.kind == Kind.WEBHOOK else ""
        return data

    def validate(self, attrs):
        instance = self.instance
        kind = attrs.get("kind", instance.kind if instance else None)
        try:
            attrs["prepared"] = validation.channel(kind, attrs, instance)
        except Refused as exc:
            raise ValidationError(exc.by_field()) from None
        return attrs


class ChannelCreatedSerializer(ChannelSerializer):
    """The answer to a create: the only one holding a generated signing secret."""

    signing_secret = serializers.CharField(read_only=True, allow_null=True)

    class Meta(ChannelSerializer.Meta):
        pass


class SubscriptionSerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", queryset=Channel.objects.all())
    runbook = serializers.SlugRelatedField(
        slug_field="slug", queryset=Runbook.objects.all(), required=False, allow_null=True
    )
    binding = serializers.PrimaryKeyRelatedField(queryset=Binding.objects.all(), required=False, allow_null=True)
    gate = serializers.SlugRelatedField(slug_field="name", queryset=Gate.objects.all(), required=False, allow_null=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventKind.choices), min_length=1)

    class Meta:
        model = Subscription
        fields = ["id", "channel", "runbook", "binding", "gate", "events", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        instance = self.instance
        subjects = {
            name: attrs.get(name, getattr(instance, name) if instance else None)
            for name in ("runbook", "binding", "gate")
        }
        events = attrs.get("events", instance.events if instance else [])
        try:
            events = validation.subscription(subjects, events)
        except Refused as exc:
            raise ValidationError(exc.by_field()) from None
        if "events" in attrs:
            attrs["events"] = events
        return attrs


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    execution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    binding = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    gate_check = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    attempt_log = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "channel_name",
            "event",
            "status",
            "attempts",
            "last_error",
            "attempt_log",
            "execution",
            "binding",
            "gate_check",
            "message",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "sent_at",
        ]


class ChannelViewSet(viewsets.ModelViewSet):
    serializer_class = ChannelSerializer
    queryset = Channel.objects.all()
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    role_actions = {
        "create": "manage_notifications",
        "update": "manage_notifications",
        "partial_update": "manage_notifications",
        "destroy": "manage_notifications",
        "test": "manage_notifications",
    }

    @extend_schema(responses={201: ChannelCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        prepared = data["prepared"]
        channel = channels.create_channel(
            data["name"],
            data["kind"],
            prepared,
            actor_of(request),
            slug=data.get("slug", ""),
            enabled=data.get("enabled", True),
            user=request.user,
            request=request,
        )
        body = ChannelSerializer(channel).data
        body["signing_secret"] = prepared.generated_secret  # shown here and never again
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        changes = {name: data[name] for name in ("name", "enabled", "slug") if name in data}
        serializer.instance = channels.update_channel(
            serializer.instance, changes, data["prepared"], actor_of(self.request), request=self.request
        )

    def perform_destroy(self, instance):
        channels.delete_channel(instance, actor_of(self.request), request=self.request)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, slug=None):
        """Send a test message through a worker; poll the delivery to see how it went."""
        row = channels.send_test(self.get_object(), actor_of(request), request=request)
        return Response(DeliverySerializer(row).data, status=status.HTTP_202_ACCEPTED)


class SubscriptionViewSet(viewsets.ModelViewSet):
    serializer_class = SubscriptionSerializer
    queryset = Subscription.objects.select_related("channel", "runbook", "gate")
    lookup_value_regex = UUID_PATTERN
    role_actions = {
        "create": "manage_notifications",
        "update": "manage_notifications",
        "partial_update": "manage_notifications",
        "destroy": "manage_notifications",
    }

    def perform_create(self, serializer):
        subscription = Subscription(created_by=self.request.user, **serializer.validated_data)
        serializer.instance = channels.save_subscription(subscription, actor_of(self.request), request=self.request)

    def perform_update(self, serializer):
        subscription = serializer.instance
        before = channels.subscription_audited(subscription)
        for name, value in serializer.validated_data.items():
            setattr(subscription, name, value)
        channels.save_subscription(subscription, actor_of(self.request), before=before, request=self.request)

    def perform_destroy(self, instance):
        channels.delete_subscription(instance, actor_of(self.request), request=self.request)


# "" is "not filtered", as on every list.
DELIVERY_FILTERS = [
    OpenApiParameter("status", {"type": "string", "enum": ["", *Delivery.Status.values]}),
    OpenApiParameter("channel", {"type": "string", "pattern": NO_NUL}, description="a channel's slug"),
    OpenApiParameter(
        "execution",
        {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]},
        description="an execution's id",
    ),
    OpenApiParameter(
        "event", {"type": "string", "pattern": NO_NUL}, description="run_failed, gate_failed, ... or test"
    ),
]


@extend_schema_view(list=extend_schema(parameters=DELIVERY_FILTERS))
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        queryset = Delivery.objects.select_related("channel")
        if self.action != "list":
            return queryset  # a delivery is found by its id alone
        params = self.request.query_params
        for name in ("channel", "event"):
            if "\x00" in params.get(name, ""):
                raise ValidationError({name: ["Null characters are not allowed."]})
        if params.get("status"):
            if params["status"] not in Delivery.Status.values:
                raise ValidationError({"status": [f"one of {', '.join(Delivery.Status.values)}"]})
            queryset = queryset.filter(status=params["status"])
        if params.get("channel"):
            queryset = queryset.filter(channel__slug=params["channel"])
        if params.get("execution"):
            if not re.fullmatch(UUID_PATTERN, params["execution"]):
                raise ValidationError({"execution": ["must be a UUID"]})
            queryset = queryset.filter(execution_id=params["execution"])
        if params.get("event"):
            queryset = queryset.filter(event=params["event"])
        return queryset
