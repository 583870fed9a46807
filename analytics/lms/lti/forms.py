import re

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..models import LtiPlatformKind, LtiRegistration

# Canvas Cloud (Instructure-hosted) answers LTI at the same addresses for every school.
CANVAS_CLOUD = {
    "issuer": "https://canvas.instructure.com",
    "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
    "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks",
}
# A Moodle site answers LTI under its own address (its issuer, "Platform ID").
MOODLE_PATHS = {
    "auth_login_url": "/mod/lti/auth.php",
    "auth_token_url": "/mod/lti/token.php",
    "jwks_url": "/mod/lti/certs.php",
}


def _https_urls(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"  # LMS endpoints are HTTPS
    return db_field.formfield(**kwargs)


class RegistrationForm(forms.ModelForm):
    deployment_ids = forms.CharField(
        label=_("Deployment ids"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "One per line. Moodle shows it as “Deployment ID”; Canvas on the installed app (“Deployment Id”)."
        ),
    )

    class Meta:
        model = LtiRegistration
        formfield_callback = _https_urls
        fields = [
            "name",
            "kind",
            "platform_url",
            "issuer",
            "client_id",
            "deployment_ids",
            "auth_login_url",
            "auth_token_url",
            "auth_audience",
            "jwks_url",
            "is_active",
        ]
        help_texts = {
            "name": _("For you, e.g. “Moodle 2025/26”."),
            "platform_url": _(
                "The address people open the LMS at, e.g. https://moodle.school.org or "
                "https://school.instructure.com. Only this LMS may show fermonitor in a frame."
            ),
            "issuer": _(
                "Moodle: “Platform ID” (the site's address). Canvas Cloud: https://canvas.instructure.com "
                "(filled in when left empty)."
            ),
            "client_id": _(
                "Moodle: “Client ID” of the tool. Canvas: the developer key's id (the long number)."
            ),
            "auth_login_url": _(
                "Moodle: “Authentication request URL”. Left empty: derived for Moodle and Canvas Cloud."
            ),
            "auth_token_url": _("Moodle: “Access token URL”. Needed for rosters and grades."),
            "auth_audience": _("Only if the LMS asks for an audience other than its access token URL."),
            "jwks_url": _("Moodle: “Public keyset URL”."),
            "is_active": _("Switched off, the LMS's launches are refused."),
        }

    def __init__(self, *args, school=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        if self.instance.pk:
            self.initial["deployment_ids"] = "\n".join(self.instance.deployment_ids or [])
        else:
            del self.fields[
                "is_active"
            ]  # a new registration is active; it can be switched off once it exists

    def clean_deployment_ids(self) -> list[str]:
        raw = self.cleaned_data.get("deployment_ids") or ""
        ids = []
        for item in re.split(r"[\n,]", raw):
            item = item.strip()
            if item and item not in ids:
                ids.append(item)
        if any(len(i) > 255 for i in ids):
            raise forms.ValidationError(_("A deployment id is at most 255 characters."))
        return ids

    def clean_issuer(self) -> str:
        issuer = (self.cleaned_data.get("issuer") or "").strip().rstrip("/")
        if issuer and not re.match(r"^https?://[^\s/]+", issuer):
            raise forms.ValidationError(_("The issuer is the LMS's address, starting with https://."))
        return issuer

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == LtiPlatformKind.CANVAS:
            for name, value in CANVAS_CLOUD.items():
                if not data.get(name):
                    data[name] = value
        elif kind == LtiPlatformKind.MOODLE:
            site = data.get("issuer") or (data.get("platform_url") or "").rstrip("/")
            if site and not data.get("issuer"):
                data["issuer"] = site
            for name, path in MOODLE_PATHS.items():
                if site and not data.get(name):
                    data[name] = site + path
        issuer, client_id = data.get("issuer") or "", (data.get("client_id") or "").strip()
        data["client_id"] = client_id
        if client_id and self.school is not None:
            clash = LtiRegistration.objects.filter(school=self.school, issuer=issuer, client_id=client_id)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "client_id",
                    _("Another registration of your school already uses this issuer and client id."),
                )
        return data
