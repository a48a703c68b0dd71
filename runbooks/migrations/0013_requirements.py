"""A Python runbook's version gains `requirements` (PEP 508 lines) and the
lock they resolved to when saved, both covered by the sha256 from content
format 3 on.

Existing versions keep the format they were hashed with (1 or 2) and so
their sha256: they have no requirements, and a field at its default is
left out of the canonical JSON anyway, so formats 2 and 3 hash the same
for them; the format number only says which fields a hash may cover.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0012_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="runbookversion",
            name="requirements",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="runbookversion",
            name="requirements_lock",
            field=models.TextField(blank=True),
        ),
        # New versions hash the requirements too.
        migrations.AlterField(
            model_name="runbookversion",
            name="content_format",
            field=models.PositiveSmallIntegerField(default=3),
        ),
    ]
