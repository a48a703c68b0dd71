"""Steward's own settings plus the bench's URLconf (the bare ceiling view).
Everything else is exactly what production reads from the environment."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
