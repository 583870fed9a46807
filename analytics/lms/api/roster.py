"""Idempotent roster sync for an LMS: people matched by `lms_id`, created or updated, and class enrolments set.

Running the same upsert twice changes nothing the second time (every item reports "unchanged"). A whole request
is checked before anything is written, so a bad item leaves the school exactly as it was.
"""

from dataclasses import dataclass, field

from django.db import transaction
from rest_framework import serializers

from classes import services
from classes.models import Enrolment, User

UPDATABLE = ("email", "first_name", "last_name", "is_active")


@dataclass
class UpsertOutcome:
    results: list[dict] = field(default_factory=list)
    people: list[User] = field(default_factory=list)

    def counts(self) -> dict:
        out = {"created": 0, "updated": 0, "unchanged": 0}
        for item in self.results:
            out[item["result"]] += 1
        return out

    def as_dict(self) -> dict:
        return {**self.counts(), "results": self.results}


def _match(items: list[dict], role: str, list_name: str) -> list[User | None]:
    """The existing person for each item (None: to be created); raises one ValidationError for all bad items."""
    by_lms_id = {u.lms_id: u for u in User.in_school.filter(lms_id__in=[i["lms_id"] for i in items])}
    emails = [i["email"] for i in items if i.get("email")]
    by_email: dict[str, list[User]] = {}
    for user in User.in_school.filter(email__in=emails) if emails else []:
        by_email.setdefault(user.email.lower(), []).append(user)
    matched, errors = [], {}
    for index, item in enumerate(items):
        user = by_lms_id.get(item["lms_id"])
        email = item.get("email") or ""
        if user is not None and user.role != role:
            errors[index] = {
                "lms_id": [f"This LMS id belongs to a {user.get_role_display().lower()} of the school."]
            }
        elif email:
            others = [u for u in by_email.get(email, []) if u != user]
            if (
                others
                and user is None
                and len(others) == 1
                and not others[0].lms_id
                and others[0].role == role
            ):
                user = others[0]  # an account made before the LMS sync (e.g. a CSV import): link it
            elif others:
                errors[index] = {"email": ["Another person of this school already uses this email address."]}
        matched.append(user)
    if errors:
        raise serializers.ValidationError({list_name: errors})
    return matched


def upsert_people(school, role: str, items: list[dict], *, list_name: str = "items") -> UpsertOutcome:
    outcome = UpsertOutcome()
    with transaction.atomic():
        for item, user in zip(items, _match(items, role, list_name), strict=True):
            if user is None:
                email = item.get("email") or ""
                user = services.create_school_user(
                    school, role, email=email, username=services.unique_username(email or item["lms_id"])
                )
                user.lms_id = item["lms_id"]
                for name in UPDATABLE:
                    if name in item:
                        setattr(user, name, item[name])
                user.save()
                result = "created"
            else:
                changes = [name for name in UPDATABLE if name in item and getattr(user, name) != item[name]]
                if user.lms_id != item["lms_id"]:
                    changes.append("lms_id")
                for name in changes:
                    setattr(user, name, item[name])
                if changes:
                    user.save(update_fields=changes)
                result = "updated" if changes else "unchanged"
            outcome.people.append(user)
            outcome.results.append({"lms_id": user.lms_id, "uuid": str(user.uuid), "result": result})
    return outcome


def sync_roster(classroom, items: list[dict]) -> dict:
    """Upsert the students and make them exactly the class's enrolled students (deactivated ones are left out)."""
    with transaction.atomic():
        outcome = upsert_people(classroom.school, "student", items, list_name="students")
        wanted = {u.pk for u in outcome.people if u.is_active}
        current = set(Enrolment.objects.filter(classroom=classroom).values_list("student_id", flat=True))
        Enrolment.objects.bulk_create(
            [Enrolment(classroom=classroom, student_id=pk) for pk in wanted - current]
        )
        removed = current - wanted
        if removed:
            Enrolment.objects.filter(classroom=classroom, student_id__in=removed).delete()
    return {
        **outcome.as_dict(),
        "enrolled": len(wanted - current),
        "unenrolled": len(removed),
        "already_enrolled": len(wanted & current),
    }
