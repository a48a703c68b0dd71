# Schedules move from the events app to runbooks (a cron fires a runbook).
# State only: the tables keep their names (events_schedule,
# events_scheduledrun) and their rows; events/0010 drops them from its state.

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0009_source_delete_unique_name'),
        ('runbooks', '0009_network_and_sandbox'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Schedule',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=100)),
                        ('cron', models.CharField(max_length=100)),
                        ('time_zone', models.CharField(default='UTC', max_length=64)),
                        ('parameters', models.JSONField(blank=True, default=dict)),
                        ('enabled', models.BooleanField(default=True)),
                        ('next_run_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('last_run_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('runbook', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='schedules', to='runbooks.runbook')),
                    ],
                    options={
                        'db_table': 'events_schedule',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ScheduledRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slot', models.DateTimeField()),
                        ('execution', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='scheduled_run', to='runbooks.execution')),
                        ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='runbooks.schedule')),
                    ],
                    options={
                        'db_table': 'events_scheduledrun',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
