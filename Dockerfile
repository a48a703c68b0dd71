# Steward: one image for web (gunicorn) and worker (celery).
# The default user is the non-root `steward`; only the worker service in
# docker-compose.yml runs as root, so it can run each runbook as a UID of
# its own (STEWARD_RUNBOOK_UIDS) inside its own bubblewrap namespaces.

# --- builder: the virtualenv with the pinned runtime dependencies -------------
FROM python:3.11-slim-bookworm AS builder

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- final: the app ------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Same base image as the builder, so the venv's python symlinks to the
# world-readable /usr/local/bin/python3.11 that runbooks also run with.
COPY --from=builder /opt/venv /opt/venv

# The runbook sandbox: bubblewrap (namespaces), passt (pasta: egress
# runbooks), iproute2 (the egress deny routes; nsenter is in util-linux).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap passt iproute2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Code stays root-owned: the runtime user cannot change it.
COPY . /app

# Throwaway keys for collectstatic only (never ENV); STEWARD_VAR_DIR points the
# settings' import-time folders (var/, broker/) away from /app/var, which is
# then created empty, owned by steward, mode 0700. The signed audit
# checkpoints' folder exists so a new compose volume there is steward's.
RUN groupadd --system --gid 10001 steward \
    && useradd --system --no-log-init --uid 10001 --gid steward \
        --home-dir /app --no-create-home --shell /usr/sbin/nologin steward \
    && SECRET_KEY=build-only-not-secret \
       STEWARD_ENCRYPTION_KEY=YnVpbGQtb25seS1ub3Qtc2VjcmV0LWtleS0wMDAwMDA= \
       STEWARD_VAR_DIR=/tmp/steward-build-var \
       python manage.py collectstatic --noinput \
    && rm -rf /tmp/steward-build-var /app/var \
    && install -d -m 0700 -o steward -g steward /app/var \
    && install -d -m 0755 -o steward -g steward /var/lib/steward-checkpoints

# Numeric, so runAsNonRoot-style checks can verify it: 10001 is steward.
USER 10001:10001

EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"]
