"""Forms of the school-admin pages: people, school settings and the consent policy."""

from django import forms

from .models import Role, School, User

MANAGED_ROLES = [(Role.TEACHER, Role.TEACHER.label), (Role.STUDENT, Role.STUDENT.label)]


class PersonForm(forms.Form):
    """Name and email of a teacher or student; email is unique within the school."""

    full_name = forms.CharField(label="Full name", max_length=300)
    email = forms.EmailField(label="Email")

    def __init__(self, *args, school: School, person: User | None = None, **kwargs):
        self.school = school
        self.person = person
        if person is not None:
            kwargs.setdefault("initial", {"full_name": person.get_full_name(), "email": person.email})
        super().__init__(*args, **kwargs)

    def clean_full_name(self):
        name = " ".join(self.cleaned_data["full_name"].split())
        if not name:
            raise forms.ValidationError("Enter the person's name.")
        return name

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        others = User.in_school.filter(school=self.school, email__iexact=email)
        if self.person is not None:
            others = others.exclude(pk=self.person.pk)
        if others.exists():
            raise forms.ValidationError("Someone in your school already uses this email address.")
        return email


class NewPersonForm(PersonForm):
    role = forms.ChoiceField(choices=MANAGED_ROLES, widget=forms.RadioSelect, initial=Role.STUDENT)

    field_order = ["role", "full_name", "email"]


class SchoolSettingsForm(forms.ModelForm):
    class Meta:
        model = School
        fields = ["presence_only", "retention_days", "aggregate_retention_days"]
        labels = {
            "presence_only": "Presence-only mode",
            "retention_days": "Keep raw samples for (days)",
            "aggregate_retention_days": "Keep per-minute aggregates for (days)",
        }
        help_texts = {
            "presence_only": "Only detect whether a face is visible; never estimate emotions.",
            "retention_days": "Each analysed frame's result is deleted after this many days.",
            "aggregate_retention_days": "Per-minute summaries behind the reports; at least as long as raw samples.",
        }
        widgets = {"presence_only": forms.CheckboxInput(attrs={"role": "switch"})}


class ConsentPolicyForm(forms.Form):
    text = forms.CharField(label="Policy text", widget=forms.Textarea(attrs={"rows": 16}), max_length=20000)

    def __init__(self, *args, current_text: str = "", **kwargs):
        self.current_text = current_text
        kwargs.setdefault("initial", {"text": current_text})
        super().__init__(*args, **kwargs)

    def clean_text(self):
        text = self.cleaned_data["text"].replace("\r\n", "\n").strip()
        if not text:
            raise forms.ValidationError("The policy cannot be empty.")
        if text == self.current_text.replace("\r\n", "\n").strip():
            raise forms.ValidationError("The text is unchanged, so no new version was published.")
        return text + "\n"
