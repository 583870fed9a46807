from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from .models import ApiKeyScope, Webhook, WebhookEvent


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text=_("What will use the key, e.g. “Moodle production”."))
    scope = forms.ChoiceField(
        choices=ApiKeyScope.choices,
        initial=ApiKeyScope.READ,
        widget=forms.RadioSelect,
        help_text=_("Read-only keys can fetch classes, sessions and summaries but change nothing."),
    )


class WebhookForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        assume_scheme="https",
        help_text=_("Your endpoint; it receives a signed JSON POST for each event. Use https in production."),
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[e.value for e in WebhookEvent],
        help_text=_("The events this endpoint receives."),
    )

    class Meta:
        model = Webhook
        fields = ["url", "events", "description"]
