"""The run policy (retries, concurrency, requires_approval, protected)
moves from the runbook into its versions, where review covers it.

Existing versions keep their sha256, and so does every run that names one:
a version's hash is what a reviewer approved and what audit entries and
pipelines quote, so rewriting it would make the history claim that a
policy was reviewed when it never was. Instead each row records its
content format: format 1 (every row here) hashes the code fields only, as
it always did, and stays checkable as such (RunbookVersion.verify());
format 2, every version saved from now on, hashes the policy too.

Each existing version gets the policy its runbook has now, the policy in
force: runs, reruns and restores of it keep behaving as they did, and a
pending draft keeps the policy it would have run with (a draft carrying no
policy would switch approval off the moment it was approved). The first
change of any of these fields after this migration makes a format-2
version, reviewed where review applies. Policy at its defaults is left out
of the canonical JSON, so for most runbooks formats 1 and 2 hash the same.
"""

from django.db import migrations, models

POLICY = (
    "max_attempts",
    "retry_backoff_seconds",
    "retry_on",
    "concurrency_limit",
    "concurrency_key",
    "on_concurrency_limit",
    "requires_approval",
    "protected",
)


def copy_policy(apps, schema_editor):
    Runbook = apps.get_model("runbooks", "Runbook")
    RunbookVersion = apps.get_model("runbooks", "RunbookVersion")
    for runbook in Runbook.objects.all().iterator():
        policy = {name: getattr(runbook, name) for name in POLICY}
        # A queryset update: the content_format of 1 says the hash does not cover these.
        RunbookVersion.objects.filter(runbook=runbook).update(**policy)


class Migration(migrations.Migration):

    dependencies = [
        ('runbooks', '0010_schedules_from_events'),
    ]

    operations = [
        migrations.AddField(
            model_name='runbookversion',
            name='concurrency_key',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='concurrency_limit',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='content_format',
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='max_attempts',
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='on_concurrency_limit',
            field=models.CharField(choices=[('wait', 'Wait'), ('skip', 'Skip')], default='wait', max_length=8),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='protected',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='requires_approval',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='retry_backoff_seconds',
            field=models.PositiveIntegerField(default=30),
        ),
        migrations.AddField(
            model_name='runbookversion',
            name='retry_on',
            field=models.JSONField(blank=True, default=list),
        ),
            migrations.RunPython(copy_policy, migrations.RunPython.noop),
        # New versions hash the policy too.
        migrations.AlterField(
            model_name="runbookversion",
            name="content_format",
            field=models.PositiveSmallIntegerField(default=2),
        ),
    ]
