"""The LMS integration is one app of its own (`analytics.lms`): its tables moved from `analytics` with their rows,
and its receivers are connected by its AppConfig rather than by an import side effect."""

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("analytics", "0004_apikey_webhook_webhookdelivery"), ("lms", None)]


def _migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def back_to_latest():
    """Migrates the test database forward again even when the test fails half-way; else every later test of
    this worker would meet the old tables (its flush fails on the foreign keys of analytics_apikey)."""
    yield
    _migrate_to_latest()  # nothing to do after a pass


@pytest.mark.django_db(transaction=True)
def test_moving_the_api_tables_keeps_keys_webhooks_and_deliveries(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE[:1]).apps
    School = old.get_model("classes", "School")
    school = School.objects.create(name="Moved School", slug="moved")
    old.get_model("analytics", "ApiKey").objects.create(
        school_id=school.pk, name="Moodle", scope="read", prefix="abcd1234", hashed_key="f" * 64
    )
    hook = old.get_model("analytics", "Webhook").objects.create(
        school_id=school.pk, url="https://lms.example.org/hook", events=["session.ended"], secret="s3cret"
    )
    old.get_model("analytics", "WebhookDelivery").objects.create(
        webhook_id=hook.pk, event="session.ended", payload={"n": 1}
    )

    _migrate_to_latest()

    tables = connection.introspection.table_names()
    assert {"lms_apikey", "lms_webhook", "lms_delivery"} <= set(tables)  # deliveries became the outbox
    assert not {"analytics_apikey", "analytics_webhook", "analytics_webhookdelivery"} & set(tables)
    ApiKey = apps.get_model("lms", "ApiKey")
    Webhook = apps.get_model("lms", "Webhook")
    Delivery = apps.get_model("lms", "Delivery")
    key = ApiKey.objects.with_scopes_disabled().get(prefix="abcd1234")
    assert (key.name, key.school.slug) == ("Moodle", "moved")
    moved_hook = Webhook.objects.with_scopes_disabled().get(pk=hook.pk)
    assert (moved_hook.url, moved_hook.secret) == ("https://lms.example.org/hook", "s3cret")
    delivery = Delivery.objects.with_scopes_disabled().get(webhook=moved_hook)
    assert delivery.payload == {"n": 1}
    assert (delivery.kind, delivery.school_id) == ("webhook", school.pk)  # lms 0003 gave it its school


def test_lms_app_connects_its_webhook_receivers_in_ready():
    from classes import signals

    config = apps.get_app_config("lms")
    assert config.name == "analytics.lms"
    receivers = [r[0][0] for r in signals.session_ended.receivers]
    assert "webhooks-session-ended" in receivers
