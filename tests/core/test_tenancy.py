"""Tenancy is enforced in one mechanism: scoped managers fail loudly outside a scope and never leak across schools."""

import pytest
from django_scopes import ScopeError, scope, scopes_disabled

from analytics.models import Alert, EmotionSample
from classes.models import Classroom, Consent, ConsentPolicy, Enrolment, LiveSession, User
from classes.tenancy import school_scope, scope_for_user

SCOPED_MODELS = [
    (Classroom, Classroom.objects),
    (Enrolment, Enrolment.objects),
    (LiveSession, LiveSession.objects),
    (ConsentPolicy, ConsentPolicy.objects),
    (Consent, Consent.objects),
    (EmotionSample, EmotionSample.objects),
    (Alert, Alert.objects),
    (User, User.in_school),
]


@pytest.mark.parametrize(("model", "manager"), SCOPED_MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_query_outside_any_scope_raises(cast, model, manager):
    with pytest.raises(ScopeError):
        list(manager.all())


@pytest.mark.parametrize(("model", "manager"), SCOPED_MODELS, ids=lambda v: getattr(v, "__name__", ""))
def test_school_scope_never_returns_other_schools_rows(cast, model, manager):
    with scopes_disabled():
        total = manager.count()
    with school_scope(cast.school_b):
        rows_b = list(manager.all())
    with school_scope(cast.school_a):
        rows_a = list(manager.all())
    assert {r.pk for r in rows_a}.isdisjoint({r.pk for r in rows_b})
    assert len(rows_a) + len(rows_b) <= total


def test_school_b_scope_cannot_fetch_school_a_object_by_id(cast):
    with school_scope(cast.school_b):
        with pytest.raises(Classroom.DoesNotExist):
            Classroom.objects.get(pk=cast.class_a.pk)
        with pytest.raises(LiveSession.DoesNotExist):
            LiveSession.objects.get(uuid=cast.a_live.uuid)
        assert not User.in_school.filter(pk=cast.sam.pk).exists()


def test_school_scope_refuses_none_because_scopes_reads_none_as_unfiltered(cast):
    with pytest.raises(ValueError):
        school_scope(None)
    # The trap school_scope guards against: django-scopes with school=None filters nothing.
    with scope(school=None):
        assert Classroom.objects.count() == 2


def test_scope_for_user_gives_students_their_school_and_operators_everything(cast):
    with scope_for_user(cast.sam):
        assert list(Classroom.objects.all()) == [cast.class_a]
    with scope_for_user(cast.op):
        assert Classroom.objects.count() == 2


def test_scope_for_anonymous_user_allows_no_scoped_query(cast):
    from django.contrib.auth.models import AnonymousUser

    with scope_for_user(AnonymousUser()), pytest.raises(ScopeError):
        Classroom.objects.count()
