from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import LoginView
from webui import audit_views, event_views, gate_views, runbook_views, secret_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("executions/", views.execution_list, name="execution_list"),
    path("executions/<uuid:pk>/", views.execution_detail, name="execution_detail"),
    path("executions/<uuid:pk>/log", views.execution_log, name="execution_log"),
    path("executions/<uuid:pk>/cancel", views.execution_cancel, name="execution_cancel"),
    path("executions/<uuid:pk>/rerun", runbook_views.execution_rerun, name="execution_rerun"),
    path("runbooks/", runbook_views.runbook_list, name="runbook_list"),
    path("runbooks/new/", runbook_views.runbook_new, name="runbook_new"),
    path("runbooks/<slug:slug>/", runbook_views.runbook_detail, name="runbook_detail"),
    path("runbooks/<slug:slug>/edit/", runbook_views.runbook_edit, name="runbook_edit"),
    path("runbooks/<slug:slug>/versions/", runbook_views.version_list, name="runbook_versions"),
    path("runbooks/<slug:slug>/versions/<int:number>/", runbook_views.version_detail, name="runbook_version"),
    path(
        "runbooks/<slug:slug>/versions/<int:number>/restore",
        runbook_views.version_restore,
        name="runbook_version_restore",
    ),
    path("runbooks/<slug:slug>/diff/", runbook_views.version_diff, name="runbook_diff"),
    path("secrets/", secret_views.secret_list, name="secret_list"),
    path("secrets/<uuid:pk>/", secret_views.secret_edit, name="secret_edit"),
    path("secrets/<uuid:pk>/delete", secret_views.secret_delete, name="secret_delete"),
    path("events/", views.event_list, name="event_list"),
    path("events/<uuid:pk>/", views.event_detail, name="event_detail"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/new/", event_views.source_new, name="source_new"),
    path("sources/<slug:slug>/", event_views.source_detail, name="source_detail"),
    path("sources/<slug:slug>/rotate", event_views.source_rotate, name="source_rotate"),
    path("bindings/", event_views.binding_list, name="binding_list"),
    path("bindings/test/", event_views.binding_test, name="binding_test"),
    path("bindings/<uuid:pk>/reset", event_views.binding_reset, name="binding_reset"),
    path("bindings/<uuid:pk>/backtest/", event_views.binding_backtest, name="binding_backtest"),
    path("schedules/", event_views.schedule_list, name="schedule_list"),
    path("gates/", gate_views.gate_list, name="gate_list"),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("audit/verify", audit_views.audit_verify, name="audit_verify"),
]
