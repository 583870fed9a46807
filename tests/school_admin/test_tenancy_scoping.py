"""Every school-owned model, including the analytics and API ones: outside any scope a query raises
`ScopeError`; inside school B's scope none of school A's rows come back, by listing or by id."""

import pytest
from django_scopes import ScopeError, scopes_disabled

from classes.admin_site import SCHOOL_PATHS, school_of
from classes.models import User
from classes.tenancy import school_scope

from .conftest import CAST


def scoped_managers():
    from django.apps import apps

    managers = []
    for model in apps.get_models():
        if model._meta.app_label not in ("classes", "analytics", "live", "lms"):
            continue
        for manager in model._meta.managers:
            if hasattr(manager, "with_scope"):  # made by django_scopes.ScopedManager
                managers.append(pytest.param(model, manager.name, id=f"{model.__name__}.{manager.name}"))
    return managers


SCOPED = scoped_managers()


def test_every_school_owned_model_is_scoped():
    """A new model with a school path but no ScopedManager would silently leak across schools."""
    scoped = {p.values[0]._meta.label_lower for p in SCOPED}
    assert scoped == set(SCHOOL_PATHS) - {"classes.school"}


@pytest.mark.parametrize(("model", "manager_name"), SCOPED)
def test_query_outside_any_scope_raises(full_cast, model, manager_name):
    manager = getattr(model, manager_name)
    with pytest.raises(ScopeError):
        list(manager.all())
    with pytest.raises(ScopeError):
        manager.filter(pk=1).exists()


@pytest.mark.parametrize(("model", "manager_name"), SCOPED)
def test_school_b_scope_never_returns_school_a_rows(full_cast, model, manager_name):
    manager = getattr(model, manager_name)
    with scopes_disabled():
        a_rows = [row for row in manager.all() if school_of(row) == full_cast.school_a]
        b_rows = [row for row in manager.all() if school_of(row) == full_cast.school_b]
    assert a_rows and b_rows, "the fixture gives every model rows in both schools"
    with school_scope(full_cast.school_b):
        seen = {row.pk for row in manager.all()}
        assert seen == {row.pk for row in b_rows}
        for row in a_rows:
            assert not manager.filter(pk=row.pk).exists()
            with pytest.raises(model.DoesNotExist):
                manager.get(pk=row.pk)


@pytest.mark.parametrize("who", [w for w in CAST if w])
def test_users_see_only_their_school_through_the_scoped_user_manager(full_cast, who):
    user = getattr(full_cast, who)
    if user.school_id is None:
        return
    with school_scope(user.school):
        assert set(User.in_school.values_list("school", flat=True)) == {user.school_id}
