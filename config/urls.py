from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from audit.api import AuditViewSet
from core.drf import Router
from events.api import BindingViewSet, EventViewSet, SourceViewSet
from events.views import hook
from gates.api import GateViewSet
from notifications.api import ChannelViewSet, DeliveryViewSet, SubscriptionViewSet
from ops import observability
from runbooks.api import ExecutionViewSet, RunbookViewSet, ScheduleViewSet, SecretViewSet
from runbooks.target_api import TargetViewSet

# Swagger UI sets style attributes, which only 'unsafe-inline' allows; on
# this page alone, and never for scripts.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema"))

router = Router()
router.register("runbooks", RunbookViewSet, basename="runbook")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("sources", SourceViewSet, basename="source")
router.register("bindings", BindingViewSet, basename="binding")
router.register("events", EventViewSet, basename="event")
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("secrets", SecretViewSet, basename="secret")
router.register("targets", TargetViewSet, basename="target")
router.register("gates", GateViewSet, basename="gate")
router.register("audit", AuditViewSet, basename="audit")
router.register("channels", ChannelViewSet, basename="channel")
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    re_path(r"^hooks/(?P<slug>[-a-zA-Z0-9_]+)/?$", observability.timed_webhook(hook), name="hook"),
    re_path(r"^healthz/?$", observability.healthz, name="healthz"),
    re_path(r"^metrics/?$", observability.metrics, name="metrics"),
    path("api/v1/", include(router.urls)),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", api_docs, name="api-docs"),
    path("", include("webui.urls")),
]

handler400 = "webui.views.errors.bad_request"
handler403 = "webui.views.errors.forbidden"
handler404 = "webui.views.errors.not_found"
handler500 = "webui.views.errors.server_error"
