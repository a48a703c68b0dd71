"""Sources: the list, a new one (its token shown once), its page with the
snippet for its tool, a test alert, rotating its token, deleting it."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from core.errors import Refused
from events import snippets, webhooks
from events.filters import SourceFilter
from events.models import Source
from webui import refusals
from webui.access import role_required
from webui.filters import list_page
from webui.forms.events import SourceForm


@role_required("read")
def source_list(request):
    return list_page(request, "webui/source_list.html", SourceFilter, Source.objects.all(), "name", "sources")


def _source_page(request, source: Source, token: str | None, status: int = 200):
    response = render(
        request,
        "webui/source_detail.html",
        {
            "source": source,
            "token": token,
            "last_event": webhooks.last_event(source),
            "webhook_url": source.webhook_url(),
            "snippet": snippets.for_source(source, source.webhook_url(), token),
            "served_from": _served_from(request),
            "default_grace_minutes": webhooks.DEFAULT_GRACE_MINUTES,
            "max_grace_minutes": webhooks.MAX_GRACE_MINUTES,
        },
        status=status,
    )
    if token:
        add_never_cache_headers(response)  # a page holding a token stays out of every cache
    return response


def _netloc(scheme: str, netloc: str) -> str:
    """host:port, without the scheme's default port, lower-cased."""
    netloc = netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    return netloc.removesuffix(default) if default else netloc


def _served_from(request) -> dict | None:
    """{"page", "base"} when this page's own host is not STEWARD_BASE_URL's.
    The snippet keeps STEWARD_BASE_URL (a Host header can be spoofed); the
    page only warns that the URL may be wrong for the tools."""
    base = urlsplit(settings.STEWARD_BASE_URL)
    scheme = "https" if request.is_secure() else "http"
    page = _netloc(scheme, request.get_host())
    if page == _netloc(base.scheme, base.netloc):
        return None
    return {"page": page, "base": base.netloc}


# The session key holding a new source's token until its page shows it once.
NEW_SOURCE_TOKEN = "steward:new-source-token"


@role_required("manage_sources")
def source_new(request):
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        try:
            source, token = webhooks.create_source(data, actor_of(request), request=request)
        except Refused as exc:
            # A taken name (SourceTaken) or a rule of events/validation.py.
            refusals.add_to_form(form, exc)
            return render(request, "webui/source_form.html", {"form": form})
        # The browser lands on the source's own page (a reload there
        # must not post the form again). The token never sits in a URL:
        # the server-side session holds it for that one page, which
        # takes it out as it shows it.
        request.session[NEW_SOURCE_TOKEN] = {"slug": source.slug, "token": token}
        messages.success(request, f"Source {source.name} created. Configure the tool with the snippet below.")
        return redirect("source_detail", slug=source.slug)
    return render(request, "webui/source_form.html", {"form": form})


@role_required("read")
def source_detail(request, slug):
    source = get_object_or_404(Source, slug=slug)
    held = request.session.get(NEW_SOURCE_TOKEN)
    token = None
    if isinstance(held, dict) and held.get("slug") == source.slug:
        token = held.get("token")
        del request.session[NEW_SOURCE_TOKEN]
    return _source_page(request, source, token)


@role_required("manage_sources")
@require_POST
def source_test_alert(request, slug):
    """A sample alert of the source's kind through its adapter, matching
    and runs, as if the tool had sent it; audited as a test alert."""
    source = get_object_or_404(Source, slug=slug)
    try:
        result = webhooks.send_test_alert(source, actor_of(request), request=request)
    except webhooks.TestAlertRefused as exc:
        messages.error(request, f"No test alert sent. {exc}")
        return redirect("source_detail", slug=source.slug)
    runs = len(result.executions)
    if runs:
        messages.success(request, f"Test alert received: {runs} run{'s' if runs != 1 else ''} started.")
    else:
        messages.info(request, "Test alert received; no binding matched it, so nothing runs.")
    return redirect("source_detail", slug=source.slug)


@role_required("delete_sources")
def source_delete(request, slug):
    """GET: what deleting this source does, and a button; POST: delete it."""
    source = get_object_or_404(Source, slug=slug)
    if request.method == "POST":
        webhooks.delete_source(source, actor_of(request), request=request)
        messages.success(
            request, f"Source {source.name} deleted: /hooks/{source.slug} answers 404. Its events and runs stay."
        )
        return redirect("source_list")
    return render(request, "webui/source_delete.html", {"source": source, **webhooks.deleting_source_keeps(source)})


@role_required("manage_sources")
@require_POST
def source_rotate(request, slug):
    source = get_object_or_404(Source, slug=slug)
    try:
        grace = int(request.POST.get("grace_minutes", webhooks.DEFAULT_GRACE_MINUTES))
    except ValueError:
        grace = -1
    if not 0 <= grace <= webhooks.MAX_GRACE_MINUTES:
        limit = webhooks.MAX_GRACE_MINUTES
        messages.error(request, f"The grace period is a whole number of minutes from 0 to {limit}.")
        return redirect("source_detail", slug=source.slug)
    token = webhooks.rotate_source_token(source, actor_of(request), grace_minutes=grace, request=request)
    if grace:
        until = f"{source.previous_token_expires_at:%Y-%m-%d %H:%M} UTC"
        messages.warning(request, f"The old token works until {until}: update the tool's configuration before then.")
    else:
        messages.warning(request, "The old token no longer works: update the tool's configuration now.")
    return _source_page(request, source, token)
