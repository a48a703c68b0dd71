from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0008_secret_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="network",
            field=models.CharField(blank=True, max_length=8),
        ),
        # Every existing version gets `egress`: they all had the worker's
        # network before, and egress is the nearest contained mode. Left out
        # of the canonical JSON at that value, so their sha256 stays.
        migrations.AddField(
            model_name="runbookversion",
            name="network",
            field=models.CharField(
                choices=[
                    ("none", "none (loopback only)"),
                    ("egress", "egress (outbound, never the control plane)"),
                    ("host", "host (the worker's own network; admins only)"),
                ],
                default="egress",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="worker",
            name="sandbox",
            field=models.CharField(default="namespaces", max_length=16),
        ),
    ]
