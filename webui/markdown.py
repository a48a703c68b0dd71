"""Markdown for runbook descriptions, sanitized: a description is written by
users, so its HTML passes nh3 (Ammonia's allow-list) before any page shows it."""

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def render(text: str) -> SafeString:
    html = md.markdown(text or "", extensions=EXTENSIONS, output_format="html")
    # No style attributes (the CSP allows none), links that cannot reach back
    # through window.opener, and only web and mail links.
    clean = nh3.clean(html, link_rel="noopener noreferrer nofollow", url_schemes={"http", "https", "mailto"})
    return mark_safe(clean)  # sanitized just above
