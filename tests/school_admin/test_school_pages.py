"""Home, classes and sessions, settings and consent policy pages."""

from django_scopes import scopes_disabled

from classes import services
from classes.models import ConsentPolicy


def test_home_counts_and_links(cast, client_for):
    html = client_for(cast.alice).get("/school/").content.decode()
    assert "Alpha Academy" in html and "Beta" not in html
    for link in (
        "/school/people/",
        "/school/classes/",
        "/school/settings/",
        "/school/consent/",
        "/reports/school/",
    ):
        assert f'href="{link}"' in html
    assert 'href="/school/integrations/"' in html
    # 2 teachers, 3 students; one live session of class_a; 2 of 3 students decided (sam granted, nina granted).
    assert '<span class="count">2</span> teachers' in html
    assert '<span class="count">3</span> students' in html
    assert '<span class="count">1</span> live now' in html
    assert f"/live/{cast.a_live.uuid}/dashboard/" in html


def test_classes_page_links_live_to_dashboard_and_ended_to_report_and_hides_other_school(cast, client_for):
    html = client_for(cast.alice).get("/school/classes/").content.decode()
    assert "Physics 1A" in html and "Biology 2B" not in html and "Cells" not in html
    assert f"/live/{cast.a_live.uuid}/dashboard/" in html
    assert f"/reports/sessions/{cast.a_ended.uuid}/" in html
    assert f"/reports/sessions/{cast.a_scheduled.uuid}/" not in html
    assert 'class="badge badge-scheduled"' in html and 'class="badge badge-ended"' in html
    ended_only = client_for(cast.alice).get("/school/classes/?status=ended").content.decode()
    assert "Mechanics" in ended_only and "Waves" not in ended_only


def test_settings_save_and_validate_aggregate_retention(cast, client_for):
    alice = client_for(cast.alice)
    html = alice.get("/school/settings/").content.decode()
    assert "never estimates emotions" in html
    bad = alice.post("/school/settings/", {"retention_days": "400", "aggregate_retention_days": "30"})
    assert bad.status_code == 400
    assert "at least as long as raw samples" in bad.content.decode()
    cast.school_a.refresh_from_db()
    assert cast.school_a.retention_days == 180
    ok = alice.post(
        "/school/settings/", {"presence_only": "on", "retention_days": "30", "aggregate_retention_days": "30"}
    )
    assert ok.status_code == 302
    cast.school_a.refresh_from_db()
    assert (
        cast.school_a.presence_only,
        cast.school_a.retention_days,
        cast.school_a.aggregate_retention_days,
    ) == (
        True,
        30,
        30,
    )
    cast.school_b.refresh_from_db()
    assert not cast.school_b.presence_only


def test_settings_reject_zero_days(cast, client_for):
    response = client_for(cast.alice).post(
        "/school/settings/", {"retention_days": "0", "aggregate_retention_days": "0"}
    )
    assert response.status_code == 400


def test_publishing_a_policy_makes_a_new_version_and_students_must_consent_again(cast, client_for):
    alice = client_for(cast.alice)
    page = alice.get("/school/consent/").content.decode()
    assert "every student must read the new version and consent again" in page
    with scopes_disabled():
        assert services.has_consent(cast.sam)
    response = alice.post("/school/consent/", {"text": "We analyse expressions. Nothing else."})
    assert response.status_code == 302
    with scopes_disabled():
        policy = services.current_policy(cast.school_a)
        assert policy.version == 2 and policy.created_by == cast.alice
        assert not services.has_consent(cast.sam)
        assert services.current_policy(cast.school_b).version == 1
        services.record_consent(cast.sam, granted=False)
    html = alice.get("/school/consent/").content.decode()
    assert 'data-version="2"' in html and 'data-version="1"' in html
    # v2: sam refused; v1: sam, nina granted (their latest decision on that version).
    v2 = html.split('data-version="2"')[1].split("</tr>")[0]
    v1 = html.split('data-version="1"')[1].split("</tr>")[0]
    assert "<td data-granted>0</td>" in v2 and "<td data-refused>1</td>" in v2
    assert "<td data-granted>2</td>" in v1 and "<td data-refused>0</td>" in v1


def test_publishing_unchanged_or_empty_text_is_refused(cast, client_for):
    alice = client_for(cast.alice)
    with scopes_disabled():
        current = services.current_policy(cast.school_a).text
    assert alice.post("/school/consent/", {"text": current}).status_code == 400
    assert alice.post("/school/consent/", {"text": "   "}).status_code == 400
    with scopes_disabled():
        assert ConsentPolicy.objects.filter(school=cast.school_a).count() == 1


def test_decision_counts_use_each_students_latest_decision(cast):
    with scopes_disabled():
        services.record_consent(cast.sam, granted=False)
        services.record_consent(cast.nora, granted=True)
        policy = services.current_policy(cast.school_a)
        counts = services.policy_decision_counts(cast.school_a)
    assert counts[policy.pk] == {"granted": 2, "refused": 1}
