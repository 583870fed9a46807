"""School settings (presence-only mode, retention) and the consent policy: publishing a new version makes every
student consent again, and the page counts decisions per version."""

from django.urls import reverse
from django_scopes import scopes_disabled

from classes import services
from classes.models import ConsentPolicy, School
from classes.tenancy import school_scope


def _school(pk):
    with scopes_disabled():
        return School.objects.get(pk=pk)


def test_settings_page_explains_presence_only_mode(cast, client_for):
    body = client_for(cast.alice).get(reverse("school_admin_settings")).content.decode()
    assert "Presence-only mode" in body
    assert "never estimates emotions" in body
    assert 'name="retention_days"' in body and 'name="aggregate_retention_days"' in body


def test_settings_are_saved(cast, client_for):
    response = client_for(cast.alice).post(
        reverse("school_admin_settings"),
        {"presence_only": "on", "retention_days": "30", "aggregate_retention_days": "400"},
    )
    assert response.status_code == 302
    school = _school(cast.school_a.pk)
    assert (school.presence_only, school.retention_days, school.aggregate_retention_days) == (True, 30, 400)
    # Unticking the box turns it off again.
    client_for(cast.alice).post(
        reverse("school_admin_settings"), {"retention_days": "30", "aggregate_retention_days": "400"}
    )
    assert _school(cast.school_a.pk).presence_only is False


def test_settings_refuse_aggregates_kept_shorter_than_samples_or_zero_days(cast, client_for):
    client = client_for(cast.alice)
    shorter = client.post(
        reverse("school_admin_settings"), {"retention_days": "100", "aggregate_retention_days": "10"}
    )
    assert shorter.status_code == 400
    assert "aggregate_retention_days" in shorter.context["form"].errors
    zero = client.post(
        reverse("school_admin_settings"), {"retention_days": "0", "aggregate_retention_days": "10"}
    )
    assert zero.status_code == 400
    assert "retention_days" in zero.context["form"].errors
    school = _school(cast.school_a.pk)
    assert (school.retention_days, school.aggregate_retention_days) == (180, 730)


def test_publishing_a_policy_creates_a_version_and_students_must_consent_again(cast, client_for):
    page = client_for(cast.alice).get(reverse("school_admin_consent")).content.decode()
    assert "must read the new version and consent again" in page
    response = client_for(cast.alice).post(reverse("school_admin_consent"), {"text": "Version two words."})
    assert response.status_code == 302
    with school_scope(cast.school_a):
        versions = list(
            ConsentPolicy.objects.order_by("version").values_list("version", "text", "created_by")
        )
        assert versions[-1] == (2, "Version two words.\n", cast.alice.pk)
        assert len(versions) == 2
        # sam had consented to version 1: that no longer counts.
        assert not services.has_consent(cast.sam)
        services.record_consent(cast.sam, granted=True)
        assert services.has_consent(cast.sam)
    with school_scope(cast.school_b):
        assert services.has_consent(cast.bea), "school B's students are unaffected"


def test_unchanged_or_empty_policy_is_not_published(cast, client_for):
    client = client_for(cast.alice)
    with school_scope(cast.school_a):
        current = services.current_policy(cast.school_a)
    for text in (current.text, "   ", current.text.replace("\n", "\r\n")):
        response = client.post(reverse("school_admin_consent"), {"text": text})
        assert response.status_code == 400
        assert "text" in response.context["form"].errors
    with school_scope(cast.school_a):
        assert ConsentPolicy.objects.count() == 1


def test_consent_page_counts_latest_decisions_per_version(cast, client_for):
    with school_scope(cast.school_a):
        services.record_consent(cast.nora, granted=False)
        services.record_consent(cast.nina, granted=False)  # nina changes her mind: only the latest counts
        services.publish_policy(cast.school_a, "v2")
        services.record_consent(cast.sam, granted=True)
    response = client_for(cast.alice).get(reverse("school_admin_consent"))
    counts = {v.version: v.counts for v in response.context["versions"]}
    assert counts == {2: {"granted": 1, "refused": 0}, 1: {"granted": 1, "refused": 2}}
    assert response.context["undecided"] == 2  # nina and nora have not decided on v2
    body = response.content.decode()
    assert 'data-version="2"' in body and 'data-version="1"' in body
