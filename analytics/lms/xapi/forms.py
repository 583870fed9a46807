from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from .models import LrsSettings

HTTP_URL = [URLValidator(schemes=["http", "https"])]


def _url_field(model_field, **kwargs):
    # Declared rather than generated: web addresses only (http/https), https assumed when none is typed.
    return model_field.formfield(validators=HTTP_URL, assume_scheme="https", **kwargs)


class LrsSettingsForm(forms.ModelForm):
    endpoint = _url_field(LrsSettings._meta.get_field("endpoint"))
    platform_url = _url_field(LrsSettings._meta.get_field("platform_url"))
    lms_url = _url_field(LrsSettings._meta.get_field("lms_url"))
    secret = forms.CharField(
        label=_("Secret (Basic-auth password)"),
        required=False,
        strip=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again. Leave empty to keep the stored one."),
    )

    class Meta:
        model = LrsSettings
        fields = [
            "enabled",
            "endpoint",
            "key",
            "secret",
            "version",
            "actor_identification",
            "platform_url",
            "lms_url",
            "send_emotions",
            "give_up_after_hours",
        ]
        widgets = {"version": forms.RadioSelect, "actor_identification": forms.RadioSelect}
        labels = {"version": _("xAPI version"), "platform_url": _("fermonitor address")}  # kept lower-case

    def __init__(self, *args, school, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        if school.presence_only:
            field = self.fields["send_emotions"]
            field.disabled = True
            field.help_text = _("This school runs in presence-only mode: no emotions are computed or sent.")
        if not self.instance.has_secret:
            self.fields["secret"].help_text = _("Stored encrypted and never shown again.")

    def clean_send_emotions(self):
        # Presence-only schools compute no emotions: the switch is off for them whatever was posted or stored.
        return bool(self.cleaned_data.get("send_emotions")) and not self.school.presence_only

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("secret") and not self.instance.has_secret:
            self.add_error("secret", _("Enter the secret the LRS gave you for this key."))
        return cleaned

    def save(self, commit=True):
        settings = super().save(commit=False)
        settings.school = self.school
        if self.cleaned_data.get("secret"):
            settings.set_secret(self.cleaned_data["secret"])
        if commit:
            settings.save()
        return settings
