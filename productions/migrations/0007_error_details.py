from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("productions", "0006_leases"),
    ]

    operations = [
        migrations.AddField(
            model_name="episode",
            name="error_details",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="segment",
            name="error_details",
            field=models.TextField(blank=True),
        ),
    ]
