"""The webhook delivery log becomes the shared outbox (`Delivery`: a webhook event or an xAPI statement, each row
with its school), and schools get their LRS settings. Existing deliveries keep their rows and take their
webhook's school."""

import uuid

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def schools_from_webhooks(apps, schema_editor):
    Delivery = apps.get_model("lms", "Delivery")
    Webhook = apps.get_model("lms", "Webhook")
    for webhook in Webhook.objects.all().only("pk", "school_id"):
        Delivery.objects.filter(webhook_id=webhook.pk).update(school_id=webhook.school_id)


class Migration(migrations.Migration):
    dependencies = [
        ("classes", "0001_initial"),
        ("lms", "0002_rename_tables"),
    ]

    operations = [
        migrations.RenameModel("WebhookDelivery", "Delivery"),
        migrations.CreateModel(
            name="LrsSettings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                (
                    "enabled",
                    models.BooleanField(
                        default=False,
                        help_text="Off: finished lessons queue nothing and queued statements wait.",
                        verbose_name="send statements",
                    ),
                ),
                (
                    "endpoint",
                    models.URLField(
                        help_text="The xAPI base URL, e.g. https://lrs.example.org/xAPI/ (statements go to …/statements).",
                        max_length=500,
                        verbose_name="LRS endpoint",
                    ),
                ),
                ("key", models.CharField(max_length=200, verbose_name="key (Basic-auth user)")),
                ("secret_encrypted", models.TextField(default="", editable=False)),
                (
                    "version",
                    models.CharField(
                        choices=[("1.0.3", "xAPI 1.0.3"), ("2.0.0", "xAPI 2.0 (IEEE 9274.1.1)")],
                        default="1.0.3",
                        max_length=8,
                        verbose_name="xAPI version",
                    ),
                ),
                (
                    "actor_identification",
                    models.CharField(
                        choices=[
                            ("account", "By account: LMS id when known, else fermonitor's id (recommended)"),
                            ("email", "By email address (mbox), where a person has one"),
                        ],
                        default="account",
                        max_length=16,
                        verbose_name="identify people",
                    ),
                ),
                (
                    "platform_url",
                    models.URLField(
                        help_text="This server's public address: the base of activity ids and of fermonitor accounts.",
                        max_length=300,
                        verbose_name="fermonitor address",
                    ),
                ),
                (
                    "lms_url",
                    models.URLField(
                        blank=True,
                        default="",
                        help_text="Your LMS's home page. People and classes with an LMS id are identified under it.",
                        max_length=300,
                        verbose_name="LMS address",
                    ),
                ),
                (
                    "send_emotions",
                    models.BooleanField(
                        default=False,
                        help_text="Adds each student's share of expressions to the result. Never in presence-only mode.",
                        verbose_name="include emotion shares",
                    ),
                ),
                (
                    "give_up_after_hours",
                    models.PositiveIntegerField(
                        default=72,
                        help_text="How long a statement is retried while the LRS is unreachable before it is marked failed.",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(720),
                        ],
                        verbose_name="give up after (hours)",
                    ),
                ),
                ("last_test_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_test_ok", models.BooleanField(default=False, editable=False)),
                ("last_test_status", models.PositiveSmallIntegerField(blank=True, editable=False, null=True)),
                (
                    "last_test_answer",
                    models.CharField(blank=True, default="", editable=False, max_length=1000),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "LRS settings",
                "verbose_name_plural": "LRS settings",
            },
        ),
        migrations.AlterModelOptions(
            name="delivery",
            options={"ordering": ["-created_at", "-pk"], "verbose_name_plural": "deliveries"},
        ),
        migrations.RenameIndex(
            model_name="delivery",
            new_name="lms_deliver_status_2ac7ae_idx",
            old_name="lms_webhook_status_cc4730_idx",
        ),
        migrations.AddField(
            model_name="delivery",
            name="event_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="give_up_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="kind",
            field=models.CharField(
                choices=[("webhook", "Webhook event"), ("xapi", "xAPI statement")],
                default="webhook",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="school",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="classes.school",
            ),
        ),
        migrations.RunPython(schools_from_webhooks, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="delivery",
            name="school",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="classes.school"
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="session",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="classes.livesession",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="webhook",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="lms.webhook",
            ),
        ),
        migrations.AddField(
            model_name="lrssettings",
            name="school",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE, related_name="lrs", to="classes.school"
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="lrs",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="lms.lrssettings",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["lrs", "status"], name="lms_deliver_lrs_id_56e1e2_idx"),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.UniqueConstraint(
                condition=models.Q(("event_id__isnull", False), ("lrs__isnull", False)),
                fields=("lrs", "event_id"),
                name="unique_event_per_lrs",
            ),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "webhook"), ("lrs__isnull", True), ("webhook__isnull", False)),
                    models.Q(("kind", "xapi"), ("lrs__isnull", False), ("webhook__isnull", True)),
                    _connector="OR",
                ),
                name="delivery_has_one_target_of_its_kind",
            ),
        ),
    ]
