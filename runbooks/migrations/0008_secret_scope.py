"""Secrets name the runbooks allowed to use them. So that nothing breaks on
upgrade, each existing secret allows the runbooks that declare it now (in
the version runs use, or in the one waiting for review); from here on
only an admin widens a scope."""

from django.db import migrations, models


def allow_declaring_runbooks(apps, schema_editor):
    Secret = apps.get_model("runbooks", "Secret")
    Runbook = apps.get_model("runbooks", "Runbook")
    by_name = {secret.name: secret for secret in Secret.objects.all()}
    if not by_name:
        return
    runbooks = Runbook.objects.select_related("current_version", "pending_version")
    for runbook in runbooks.iterator():
        declared = set()
        for version in (runbook.current_version, runbook.pending_version):
            if version is not None and isinstance(version.secrets, list):
                declared.update(name for name in version.secrets if isinstance(name, str))
        for name in sorted(declared):
            if name in by_name:
                by_name[name].allowed_runbooks.add(runbook)


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0007_hourly_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="secret",
            name="allowed_runbooks",
            field=models.ManyToManyField(blank=True, related_name="allowed_secrets", to="runbooks.runbook"),
        ),
        migrations.RunPython(allow_declaring_runbooks, migrations.RunPython.noop),
    ]
