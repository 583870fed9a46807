"""The API's tables now belong to the LMS integration app (`analytics.lms`, migration lms 0001), which takes them
over with their rows: here they only leave analytics' state; nothing is dropped."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_apikey_webhook_webhookdelivery"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="WebhookDelivery"),
                migrations.DeleteModel(name="Webhook"),
                migrations.DeleteModel(name="ApiKey"),
            ],
        ),
    ]
