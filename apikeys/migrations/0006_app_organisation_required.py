import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0005_organisation_per_app"),
    ]

    operations = [
        migrations.AlterField(
            model_name="app",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="apps", to="organisations.organisation"
            ),
        ),
    ]
