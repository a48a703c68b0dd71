# Schedules moved to the runbooks app (runbooks/0010 took them into its
# state). State only: the tables and their rows stay as they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0009_source_delete_unique_name'),
        ('runbooks', '0010_schedules_from_events'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='ScheduledRun'),
                migrations.DeleteModel(name='Schedule'),
            ],
            database_operations=[],
        ),
    ]
