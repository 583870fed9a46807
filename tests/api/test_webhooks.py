"""Webhooks reach a real local HTTP endpoint: signed, retried with backoff, logged."""

import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.lms import webhooks
from analytics.lms.models import Delivery, DeliveryStatus, Webhook
from classes.tenancy import school_scope

from .conftest import client_for_user, record_lesson
from .receiver import Receiver

ALL_EVENTS = ["session.started", "session.ended", "alert.raised"]


def make_hook(school, url, events=ALL_EVENTS) -> Webhook:
    with scopes_disabled():
        return Webhook.objects.create(school=school, url=url, events=events)


def deliveries(**filters):
    with scopes_disabled():
        return list(Delivery.objects.filter(**filters).order_by("pk"))


def check_signature(request: dict, secret: str) -> int:
    """What a receiver does, written out independently of fermonitor's own helper."""
    header = request["headers"]["X-Fermonitor-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


def test_ending_a_session_sends_a_signed_session_ended_event_with_the_summary(
    api_a, cast, django_capture_on_commit_callbacks
):
    record_lesson(cast.a_live, [cast.sam], minutes=2)
    with Receiver() as endpoint:
        hook = make_hook(cast.school_a, endpoint.url)
        make_hook(cast.school_b, endpoint.url + "/b")  # school B's endpoint hears nothing of school A
        with django_capture_on_commit_callbacks(execute=True):
            assert api_a.post(f"/api/v1/sessions/{cast.a_live.uuid}/end/").status_code == 200
        report = webhooks.deliver_due()

        assert (report.attempted, report.succeeded) == (1, 1)
        (request,) = endpoint.requests
        assert request["path"] == "/hooks/fermonitor"
        assert request["headers"]["X-Fermonitor-Event"] == "session.ended"
        timestamp = check_signature(request, hook.secret)
        assert abs(time.time() - timestamp) < 60
        payload = json.loads(request["body"])
        assert payload["event"] == "session.ended"
        assert payload["school"]["uuid"] == str(cast.school_a.uuid)
        assert payload["data"]["session"]["uuid"] == str(cast.a_live.uuid)
        assert payload["data"]["session"]["status"] == "ended"
        assert payload["data"]["summary"]["overall"]["minutes"] == 2
        seen = {s["name"]: s["minutes_seen"] for s in payload["data"]["summary"]["students"]}
        assert seen == {"Sam Alpha": 2, "Nora Alpha": 0}
        assert request["headers"]["X-Fermonitor-Delivery"] == str(deliveries(webhook=hook)[0].uuid)


def test_a_tampered_body_or_another_secret_fails_verification(cast):
    body = b'{"event":"session.started"}'
    header = webhooks.signature_header("whsec_right", body, int(time.time()))
    assert webhooks.verify_signature("whsec_right", header, body)
    assert not webhooks.verify_signature("whsec_wrong", header, body)
    assert not webhooks.verify_signature("whsec_right", header, body + b" ")
    old = webhooks.signature_header("whsec_right", body, int(time.time()) - 3600)
    assert not webhooks.verify_signature("whsec_right", old, body)  # replayed an hour later


def test_starting_a_session_only_reaches_endpoints_that_want_it(
    api_a, cast, django_capture_on_commit_callbacks
):
    wants = make_hook(cast.school_a, "http://127.0.0.1:9/start", ["session.started"])
    ignores = make_hook(cast.school_a, "http://127.0.0.1:9/alerts", ["alert.raised"])
    paused = make_hook(cast.school_a, "http://127.0.0.1:9/paused", ["session.started"])
    with scopes_disabled():
        paused.is_active = False
        paused.save()
    with django_capture_on_commit_callbacks(execute=True):
        api_a.post(f"/api/v1/sessions/{cast.a_scheduled.uuid}/start/")
    assert [d.event for d in deliveries(webhook=wants)] == ["session.started"]
    assert deliveries(webhook=ignores) == [] and deliveries(webhook=paused) == []


def test_failed_deliveries_are_retried_with_exponential_backoff(cast):
    t0 = timezone.now().replace(microsecond=0)
    with Receiver([500, 503, 200]) as endpoint:
        hook = make_hook(cast.school_a, endpoint.url)
        webhooks.enqueue(cast.school_a, "session.started", {"n": 1}, now=t0)

        assert webhooks.deliver_due(now=t0).retrying == 1
        (delivery,) = deliveries(webhook=hook)
        assert (delivery.attempts, delivery.response_status) == (1, 500)
        assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
        assert delivery.last_error == "HTTP 500: receiver is down"

        assert webhooks.deliver_due(now=t0 + timedelta(seconds=29)).attempted == 0  # not yet
        assert webhooks.deliver_due(now=t0 + timedelta(seconds=30)).retrying == 1
        (delivery,) = deliveries(webhook=hook)
        assert delivery.next_attempt_at == t0 + timedelta(seconds=30 + 60)  # the pause doubled

        assert webhooks.deliver_due(now=t0 + timedelta(seconds=90)).succeeded == 1
        (delivery,) = deliveries(webhook=hook)
        assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 3, 200)
        assert delivery.delivered_at == t0 + timedelta(seconds=90)
        # Each attempt is signed afresh (its own timestamp) over the same event.
        stamps = [check_signature(r, hook.secret) for r in endpoint.requests]
        assert stamps == [int(t0.timestamp()) + s for s in (0, 30, 90)]
        assert len({p["id"] for p in endpoint.payloads()}) == 1


def test_backoff_grows_to_a_cap_and_delivery_gives_up_after_the_last_attempt(cast):
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.backoff(30) == timedelta(hours=6)
    now = timezone.now()
    with Receiver([500] * 20) as endpoint:
        hook = make_hook(cast.school_a, endpoint.url)
        webhooks.enqueue(cast.school_a, "alert.raised", {}, now=now)
        for _ in range(webhooks.MAX_ATTEMPTS):
            now += timedelta(hours=7)
            webhooks.deliver_due(now=now)
        (delivery,) = deliveries(webhook=hook)
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            "failed",
            webhooks.MAX_ATTEMPTS,
            None,
        )
        assert webhooks.deliver_due(now=now + timedelta(days=1)).attempted == 0
        assert len(endpoint.requests) == webhooks.MAX_ATTEMPTS


def test_an_unreachable_endpoint_is_logged_and_retried(cast):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    hook = make_hook(cast.school_a, f"http://127.0.0.1:{closed_port}/")
    webhooks.enqueue(cast.school_a, "session.started", {})
    assert webhooks.deliver_due().retrying == 1
    (delivery,) = deliveries(webhook=hook)
    assert delivery.response_status is None
    assert "refused" in delivery.last_error.lower()


def test_a_raised_alert_becomes_an_alert_raised_event(cast):
    from analytics.services import record_alert

    hook = make_hook(cast.school_a, "http://127.0.0.1:9/", ["alert.raised"])
    with school_scope(cast.school_a):
        record_alert(
            cast.a_live.pk, "no_face", "Sam: no face for 30 s", timezone.now(), student_id=cast.sam.pk
        )
    (delivery,) = deliveries(webhook=hook)
    alert = delivery.payload["data"]["alert"]
    assert (alert["kind"], alert["student"]["uuid"]) == ("no_face", str(cast.sam.uuid))
    assert delivery.payload["data"]["session"]["uuid"] == str(cast.a_live.uuid)


def test_a_failing_webhook_never_breaks_the_operation_that_raised_the_event(cast, monkeypatch):
    from analytics.services import record_alert

    make_hook(cast.school_a, "http://127.0.0.1:9/", ["alert.raised"])
    monkeypatch.setattr(webhooks, "enqueue", lambda *a, **k: 1 / 0)
    with school_scope(cast.school_a):
        alert = record_alert(cast.a_live.pk, "no_face", "x", timezone.now())
    assert alert.pk is not None


def test_deliver_webhooks_command_sends_what_is_due(cast):
    with Receiver() as endpoint:
        make_hook(cast.school_a, endpoint.url)
        make_hook(cast.school_b, endpoint.url)
        webhooks.enqueue(cast.school_a, "session.started", {"school": "a"})
        webhooks.enqueue(cast.school_b, "session.started", {"school": "b"})
        from io import StringIO

        out = StringIO()
        call_command("deliver_webhooks", stdout=out)
        assert "attempted 2: 2 delivered" in out.getvalue()
        assert sorted(p["data"]["school"] for p in endpoint.payloads()) == ["a", "b"]


def test_sync_mode_sends_right_after_the_commit(cast, settings, django_capture_on_commit_callbacks):
    settings.FERMONITOR_WEBHOOK_DELIVERY = "sync"
    with Receiver() as endpoint:
        make_hook(cast.school_a, endpoint.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.enqueue(cast.school_a, "session.started", {})
        assert len(endpoint.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_thread_mode_sends_in_the_background(transactional_cast, settings):
    settings.FERMONITOR_WEBHOOK_DELIVERY = "thread"
    with Receiver() as endpoint:
        make_hook(transactional_cast.school_a, endpoint.url)
        webhooks.enqueue(transactional_cast.school_a, "session.started", {})
        assert endpoint.received.wait(10)
        for _ in range(50):  # the thread records the outcome just after the receiver answers
            if deliveries()[0].status == DeliveryStatus.SUCCEEDED:
                break
            time.sleep(0.1)
        assert deliveries()[0].status == DeliveryStatus.SUCCEEDED


def test_delivery_log_page_shows_attempts_and_retry_now_redelivers(cast):
    with Receiver([500, 200]) as endpoint:
        hook = make_hook(cast.school_a, endpoint.url)
        webhooks.enqueue(cast.school_a, "session.started", {})
        webhooks.deliver_due()
        alice = client_for_user(cast.alice)
        page = alice.get(f"/school/integrations/webhooks/{hook.uuid}/").content.decode()
        assert "HTTP 500: receiver is down" in page and "1 / 8" in page and "Retry now" in page
        (delivery,) = deliveries(webhook=hook)
        alice.post(f"/school/integrations/deliveries/{delivery.uuid}/retry")
        page = alice.get(f"/school/integrations/webhooks/{hook.uuid}/").content.decode()
        assert 'data-status="succeeded"' in page and "HTTP 200" in page
        assert len(endpoint.requests) == 2


def test_test_event_button_pings_the_endpoint(cast):
    with Receiver() as endpoint:
        hook = make_hook(cast.school_a, endpoint.url)
        response = client_for_user(cast.alice).post(
            f"/school/integrations/webhooks/{hook.uuid}/ping", follow=True
        )
        assert "Test event delivered (HTTP 200)" in response.content.decode()
        assert endpoint.payloads()[0]["event"] == "ping"
        check_signature(endpoint.requests[0], hook.secret)
