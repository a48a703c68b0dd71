"""Steward's URLs, plus the bare view the ingest figures are compared with."""

from django.urls import path

from bench.bare import bare_insert
from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as steward_urlpatterns

urlpatterns = [path("bench/bare", bare_insert), *steward_urlpatterns]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
