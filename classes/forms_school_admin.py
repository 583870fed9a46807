"""Forms of the school-admin pages: people, school settings and the consent policy."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Role, School, User

MANAGED_ROLES = [(Role.TEACHER, Role.TEACHER.label), (Role.STUDENT, Role.STUDENT.label)]


class PersonForm(forms.Form):
    """Name and email of a teacher or student; email is unique within the school."""

    full_name = forms.CharField(label=_("Full name"), max_length=300)
    email = forms.EmailField(label=_("Email"))

    def __init__(self, *args, school: School, person: User | None = None, **kwargs):
        self.school = school
        self.person = person
        if person is not None:
            kwargs.setdefault("initial", {"full_name": person.get_full_name(), "email": person.email})
        super().__init__(*args, **kwargs)

    def clean_full_name(self):
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError(_("Enter the person's name."))
        return name

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        others = User.in_school.filter(school=self.school, email__iexact=email)
        if self.person is not None:
            others = others.exclude(pk=self.person.pk)
        if others.exists():
            raise forms.ValidationError(_("Someone in your school already uses this email address."))
        return email


class NewPersonForm(PersonForm):
    role = forms.ChoiceField(choices=MANAGED_ROLES, widget=forms.RadioSelect, initial=Role.STUDENT)

    field_order = ["role", "full_name", "email"]


class SchoolSettingsForm(forms.ModelForm):
    class Meta:
        model = School
        fields = ["language", "presence_only", "call_capture", "retention_days", "aggregate_retention_days"]
        labels = {
            "presence_only": _("Presence-only mode"),
            "call_capture": _("Read lessons' video calls"),
            "retention_days": _("Keep raw samples for (days)"),
            "aggregate_retention_days": _("Keep per-minute aggregates for (days)"),
        }
        help_texts = {
            "presence_only": _("Only detect whether a face is visible; never estimate emotions."),
            "retention_days": _("Each analysed frame's result is deleted after this many days."),
            "aggregate_retention_days": _(
                "Per-minute summaries behind the reports; at least as long as raw samples."
            ),
        }
        widgets = {
            "presence_only": forms.CheckboxInput(attrs={"role": "switch"}),
            "call_capture": forms.CheckboxInput(attrs={"role": "switch"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without the language (an older page, a script) keeps the school's current one.
        self.fields["language"].required = False

    def clean_language(self):
        return self.cleaned_data.get("language") or self.instance.language


class ConsentPolicyForm(forms.Form):
    text = forms.CharField(
        label=_("Policy text"), widget=forms.Textarea(attrs={"rows": 16}), max_length=20000
    )

    def __init__(self, *args, current_text: str = "", **kwargs):
        self.current_text = current_text
        kwargs.setdefault("initial", {"text": current_text})
        super().__init__(*args, **kwargs)

    def clean_text(self):
        text = self.cleaned_data["text"].replace("\r\n", "\n").strip()
        if not text:
            raise forms.ValidationError(_("The policy cannot be empty."))
        if text == self.current_text.replace("\r\n", "\n").strip():
            raise forms.ValidationError(_("The text is unchanged, so no new version was published."))
        return text + "\n"
