"""The API keys, webhooks and webhook deliveries move here from `analytics` with their data: the tables created by
analytics' 0004 are taken over as they are (state only), then 0002 gives them this app's names."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import analytics.lms.models

MOVED = ("apikey", "webhook", "webhookdelivery")


def move_content_types(apps, schema_editor):
    """Permissions and admin log entries point at content types: keep them, under the new app label."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        old = ContentType.objects.filter(app_label="analytics", model=model).first()
        if old is None:
            continue
        if ContentType.objects.filter(app_label="lms", model=model).exists():
            old.delete()
        else:
            old.app_label = "lms"
            old.save(update_fields=["app_label"])


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="lms", model__in=MOVED).update(app_label="analytics")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analytics", "0005_move_api_tables_to_lms"),
        ("classes", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "name",
                            models.CharField(
                                help_text="What uses this key, e.g. “Moodle production”.", max_length=100
                            ),
                        ),
                        (
                            "scope",
                            models.CharField(
                                choices=[("read", "Read only"), ("read_write", "Read and write")],
                                default="read",
                                max_length=16,
                            ),
                        ),
                        ("prefix", models.CharField(editable=False, max_length=8, unique=True)),
                        ("hashed_key", models.CharField(editable=False, max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "school",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_keys",
                                to="classes.school",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "db_table": "analytics_apikey",
                    },
                ),
                migrations.CreateModel(
                    name="Webhook",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "url",
                            models.URLField(
                                help_text="Receives a signed JSON POST for every event.",
                                max_length=500,
                                verbose_name="URL",
                            ),
                        ),
                        (
                            "events",
                            models.JSONField(default=list, help_text="Event names this endpoint receives."),
                        ),
                        ("description", models.CharField(blank=True, default="", max_length=200)),
                        (
                            "secret",
                            models.CharField(
                                default=analytics.lms.models.new_webhook_secret,
                                editable=False,
                                max_length=100,
                            ),
                        ),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "school",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="webhooks",
                                to="classes.school",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["created_at"],
                        "db_table": "analytics_webhook",
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("event", models.CharField(max_length=40)),
                        ("payload", models.JSONField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("succeeded", "Delivered"),
                                    ("failed", "Failed (gave up)"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("response_status", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, default="", max_length=500)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "webhook",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="lms.webhook",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "webhook deliveries",
                        "db_table": "analytics_webhookdelivery",
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [
                            models.Index(
                                fields=["status", "next_attempt_at"], name="analytics_w_status_e4b8d7_idx"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
