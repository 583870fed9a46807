"""The school report's filters, read from the query string so a report can be bookmarked."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from classes.models import Classroom, Role, User

from .reports import SchoolReportFilters


class SchoolReportFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    classroom = forms.ModelChoiceField(
        queryset=Classroom.objects.none(), to_field_name="uuid", required=False, empty_label=_("All classes")
    )
    teacher = forms.ModelChoiceField(
        queryset=User.objects.none(), to_field_name="uuid", required=False, empty_label=_("All teachers")
    )
    negative = forms.IntegerField(
        label=_("Flag: negative above %"), min_value=1, max_value=99, required=False, initial=35
    )
    presence = forms.IntegerField(
        label=_("Flag: presence below %"), min_value=1, max_value=100, required=False, initial=60
    )
    consecutive = forms.IntegerField(
        label=_("… in sessions in a row"), min_value=1, max_value=20, required=False, initial=3
    )

    def __init__(self, data, *, school, **kwargs):
        # Missing parameters take their defaults, so the form always shows (and bookmarks) what the report covers.
        data = data.copy()
        today = timezone.localdate()
        defaults = {
            "date_to": today.isoformat(),
            "date_from": (today - timedelta(weeks=8)).isoformat(),
            "negative": "35",
            "presence": "60",
            "consecutive": "3",
        }
        for name, value in defaults.items():
            if not data.get(name):
                data[name] = value
        super().__init__(data, **kwargs)
        self.school = school
        self.fields["classroom"].queryset = Classroom.objects.filter(school=school).order_by("name")
        self.fields["teacher"].queryset = User.objects.filter(school=school, role=Role.TEACHER).order_by(
            "last_name", "first_name"
        )
        if school.presence_only:
            del self.fields["negative"]

    def clean(self):
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> SchoolReportFilters:
        """The filters from the valid fields; defaults for empty or invalid ones."""
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        filters = SchoolReportFilters()
        filters.date_to = data.get("date_to") or timezone.localdate()
        filters.date_from = data.get("date_from") or filters.date_to - timedelta(weeks=8)
        if filters.date_from > filters.date_to:
            filters.date_from = filters.date_to - timedelta(weeks=8)
        filters.classroom = data.get("classroom")
        filters.teacher = data.get("teacher")
        if data.get("negative"):
            filters.negative_threshold = data["negative"] / 100
        if data.get("presence"):
            filters.presence_threshold = data["presence"] / 100
        if data.get("consecutive"):
            filters.consecutive = data["consecutive"]
        return filters
