"""The moved tables (lms 0001) take this app's names: lms_apikey, lms_webhook, lms_webhookdelivery."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("lms", "0001_initial"),
    ]

    operations = [
        migrations.RenameIndex(
            model_name="webhookdelivery",
            new_name="lms_webhook_status_cc4730_idx",
            old_name="analytics_w_status_e4b8d7_idx",
        ),
        migrations.AlterModelTable(
            name="apikey",
            table=None,
        ),
        migrations.AlterModelTable(
            name="webhook",
            table=None,
        ),
        migrations.AlterModelTable(
            name="webhookdelivery",
            table=None,
        ),
    ]
