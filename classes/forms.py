"""Forms of the teaching pages. Querysets are narrowed to the class's school so a forged id never reaches
another school's people."""

from datetime import timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Classroom, LiveSession, Role, User

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class TeacherChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class ClassroomForm(forms.ModelForm):
    """Name and subject; school admins also pick (or change) the teacher."""

    class Meta:
        model = Classroom
        fields = ["name", "subject"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "e.g. Physics 1A", "autofocus": True}),
            "subject": forms.TextInput(attrs={"placeholder": "e.g. Physics"}),
        }

    def __init__(self, *args, school, with_teacher: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if with_teacher:
            self.fields["teacher"] = TeacherChoiceField(
                queryset=User.in_school.filter(school=school, role=Role.TEACHER, is_active=True).order_by(
                    "last_name", "first_name", "username"
                ),
                initial=self.instance.teacher_id if self.instance.pk else None,
                empty_label=_("Choose a teacher"),
                help_text=_("The teacher who runs this class's sessions."),
            )


class StudentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name() or obj.username
        return f"{name} ({obj.email})" if obj.email else name


class EnrolForm(forms.Form):
    students = StudentChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Pick at least one student to enrol.")},
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["students"].queryset = candidates


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        error_messages={"required": _("Choose a CSV file to upload."), "empty": _("The file is empty.")},
        help_text=_("One student per row: name,email. A header row is optional. UTF-8, at most 1 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _next_full_hour():
    now = timezone.localtime()
    return (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


class SessionForm(forms.ModelForm):
    """Schedule or edit a session. The planned duration is entered in minutes."""

    duration_minutes = forms.IntegerField(
        label=_("Planned duration (minutes)"), min_value=5, max_value=480, initial=45
    )

    class Meta:
        model = LiveSession
        fields = [
            "title",
            "scheduled_start",
            "frame_rate",
            "no_face_alert_seconds",
            "negative_alert_seconds",
            "class_drop_threshold",
        ]
        labels = {
            "scheduled_start": _("Starts at"),
            "frame_rate": _("Frames per second"),
            "no_face_alert_seconds": _("No-face alert after (seconds)"),
            "negative_alert_seconds": _("Negative-mood alert after (seconds)"),
            "class_drop_threshold": _("Class mood drop alert (0-1)"),
        }
        widgets = {
            "title": forms.TextInput(attrs={"placeholder": "e.g. Optics: lenses", "autofocus": True}),
            "scheduled_start": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
            "frame_rate": forms.NumberInput(attrs={"min": 0.2, "max": 5, "step": 0.1}),
            "no_face_alert_seconds": forms.NumberInput(attrs={"min": 5, "max": 3600}),
            "negative_alert_seconds": forms.NumberInput(attrs={"min": 5, "max": 3600}),
            "class_drop_threshold": forms.NumberInput(attrs={"min": 0, "max": 1, "step": 0.05}),
        }

    # A few minutes' grace so a form filled in at 10:00 and sent at 10:02 is not refused.
    PAST_GRACE = timedelta(minutes=5)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheduled_start"].input_formats = [DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
        self.fields["scheduled_start"].help_text = f"Time zone: {timezone.get_current_timezone_name()}."
        if self.instance.pk:
            self.fields["duration_minutes"].initial = int(
                self.instance.planned_duration.total_seconds() // 60
            )
        else:
            self.fields["scheduled_start"].initial = _next_full_hour()
        for name in ("no_face_alert_seconds", "negative_alert_seconds"):
            # A shorter alert would fire on every blink; a longer one would never help during a lesson.
            self.fields[name].validators += [MinValueValidator(5), MaxValueValidator(3600)]

    def clean_scheduled_start(self):
        start = self.cleaned_data["scheduled_start"]
        # Editing the title of a session whose start has passed must not force a new start time.
        moved = not self.instance.pk or "scheduled_start" in self.changed_data
        if moved and start < timezone.now() - self.PAST_GRACE:
            raise forms.ValidationError(_("This time is in the past. Pick a start time from now on."))
        return start

    def session_fields(self) -> dict:
        """The model fields to save, with the duration as a timedelta."""
        fields = {name: self.cleaned_data[name] for name in self.Meta.fields}
        fields["planned_duration"] = timedelta(minutes=self.cleaned_data["duration_minutes"])
        return fields


class ConsentForm(forms.Form):
    decision = forms.ChoiceField(choices=[("agree", "I agree"), ("refuse", "I do not agree")])

    @property
    def granted(self) -> bool:
        return self.cleaned_data["decision"] == "agree"
