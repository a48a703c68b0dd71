"""The four role groups (accounts/roles.py). Permissions are not attached
to them: Steward asks accounts.roles, not Django's model permissions."""

from django.db import migrations

ROLES = ("viewer", "responder", "author", "admin")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_cache_table"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Reversing leaves the groups: removing them would silently strip everyone's role.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
