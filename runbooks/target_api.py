"""/api/v1/targets/: the machines `ssh` runbooks run on (runbooks/targets.py
holds the rules and the audit; this only translates)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import actor_of
from runbooks import targets, validation
from runbooks.models import Target
from runbooks.runners import ssh


class TargetSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=22)
    user = serializers.CharField(max_length=64)
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    # The pinned public key: given, or fetched with targets/scan/ and confirmed.
    host_key = serializers.CharField(required=False, allow_blank=True, default="")
    credential = serializers.CharField(max_length=100, help_text="The name of the secret holding the private key.")
    host_key_fingerprint = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_host_key_fingerprint(self, target) -> str:
        return ssh.fingerprint(target.host_key)


class ScanSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=22)


class ScannedSerializer(serializers.Serializer):
    address = serializers.CharField()
    port = serializers.IntegerField()
    host_key = serializers.CharField()
    fingerprint = serializers.CharField()


class TargetViewSet(viewsets.ModelViewSet):
    serializer_class = TargetSerializer
    queryset = Target.objects.all()
    lookup_field = "name"
    lookup_value_regex = validation.TARGET_NAME.pattern.strip("^$")
    # Who may change where runbooks run and with which key: the role that
    # manages the secrets holding those keys.
    role_actions = {
        "create": "manage_targets",
        "update": "manage_targets",
        "partial_update": "manage_targets",
        "destroy": "manage_targets",
        "scan": "manage_targets",
    }

    def perform_create(self, serializer):
        serializer.instance = targets.create(dict(serializer.validated_data), actor_of(self.request), self.request)

    def perform_update(self, serializer):
        serializer.instance = targets.update(
            serializer.instance, dict(serializer.validated_data), actor_of(self.request), self.request
        )

    def perform_destroy(self, instance):
        targets.delete(instance, actor_of(self.request), self.request)

    def get_serializer(self, *args, **kwargs):
        if self.action in ("update", "partial_update"):
            kwargs["partial"] = True  # PUT merges too, as every other resource here
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=ScanSerializer, responses={200: ScannedSerializer})
    @action(detail=False, methods=["post"])
    def scan(self, request):
        """The host key a machine presents now, to confirm and then pin
        (nothing is saved)."""
        scan = ScanSerializer(data=request.data)
        scan.is_valid(raise_exception=True)
        found = targets.scan(scan.validated_data["address"], scan.validated_data["port"])
        return Response(ScannedSerializer(found).data, status=status.HTTP_200_OK)
