"""pylti1p3 set up for fermonitor: one registration (the one in the URL) as the library's tool config, the school's
keys as the tool's keys, HTTP with timeouts, access tokens cached per registration, and the OIDC state and nonce
kept in the database (`LtiLogin`) so that every nonce is used at most once, by the registration that issued it.

The library does the protocol (OIDC parameters, id token format, JWKS lookup, message validation, deep-linking
JWT, NRPS paging, AGS line items and scores); the overrides below tighten what it leaves loose: the audience, issuer,
expiry and issued-at are verified by PyJWT with a small clock skew, the algorithm is RS256 only, a platform key
rotation is picked up (an unknown kid re-fetches the JWKS once), and the nonce is consumed.
"""

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pylti1p3.actions import Action
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.session import SessionService
from pylti1p3.tool_config import ToolConfAbstract

from ..models import LtiLogin, LtiRegistration
from . import keys

HTTP_TIMEOUT = 10  # seconds, for every call to a platform
LOGIN_LIFETIME = timedelta(minutes=10)  # from our OIDC redirect to the platform's launch POST
CLOCK_SKEW = 60  # seconds of clock difference tolerated on iat/exp
JWKS_CACHE_SECONDS = 600
USER_AGENT = "fermonitor-lti/1"


class LaunchRefused(Exception):
    """A launch we will not accept, with the HTTP status and the sentence the person sees."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


class _TimeoutSession(requests.Session):
    # The library calls session.get/post without a timeout; a platform that hangs must not hang a worker.
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def http_session() -> requests.Session:
    session = _TimeoutSession()
    session.headers["User-Agent"] = USER_AGENT
    return session


def library_registration(registration: LtiRegistration) -> Registration:
    """The registration as pylti1p3 wants it, with the school's current signing key."""
    key = keys.current_key(registration.school)
    return (
        Registration()
        .set_issuer(registration.issuer)
        .set_client_id(registration.client_id)
        .set_key_set_url(registration.jwks_url)
        .set_auth_login_url(registration.auth_login_url)
        .set_auth_token_url(registration.auth_token_url)
        .set_auth_audience(registration.auth_audience)
        .set_tool_private_key(keys.private_pem(key))
        .set_tool_public_key(keys.public_pem(key))
    )


class RegistrationToolConf(ToolConfAbstract):
    """Exactly one registration is known: the one the URL named. Any other issuer, client or deployment is not."""

    def __init__(self, registration: LtiRegistration):
        super().__init__()
        self.registration = registration

    def check_iss_has_one_client(self, iss):
        return False

    def check_iss_has_many_clients(self, iss):
        return True

    def _matches(self, iss, client_id, action) -> bool:
        r = self.registration
        if not (r.is_active and r.is_complete and iss == r.issuer):
            return False
        # The login initiation may leave client_id out (the URL already names the registration); a launch's
        # audience never may.
        return client_id == r.client_id or (action == Action.OIDC_LOGIN and not client_id)

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        return None

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        if self._matches(iss, client_id, kwargs.get("action")):
            return library_registration(self.registration)
        return None

    def find_deployment(self, iss, deployment_id):
        return None

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        r = self.registration
        if iss == r.issuer and client_id == r.client_id and deployment_id in r.deployment_ids:
            return Deployment().set_deployment_id(deployment_id)
        return None


class _NoLaunchCache(SessionService):
    """The library may keep launches in the Django session to restore them later; fermonitor acts on a launch at
    once and keeps nothing of it there. Nonces are checked against `LtiLogin` by `ToolLaunch`."""

    def _set_value(self, key, value):
        pass

    def _get_value(self, key):
        return None

    def save_nonce(self, nonce):
        pass

    def check_nonce(self, nonce):
        return True  # checked (and consumed) by ToolLaunch against the database

    def check_state_is_valid(self, state, id_token_hash):
        return False  # so the state must match the cookie set by our login


class CachedServiceConnector(ServiceConnector):
    """Service calls with access tokens cached per registration. (pylti1p3's Django connector keys its cache by
    issuer and scopes only, which two schools registering the same LMS would share.)"""

    def __init__(self, registration: LtiRegistration):
        super().__init__(library_registration(registration), http_session())
        self._cache_prefix = f"lti-token-{registration.uuid}-{hashlib.sha256(registration.client_id.encode()).hexdigest()[:16]}"

    def _get_cached_access_token(self, scope_key):
        return cache.get(f"{self._cache_prefix}-{scope_key}")

    def _cache_access_token(self, scope_key, access_token, expires_in):
        try:
            seconds = int(float(expires_in)) - 30
        except (TypeError, ValueError):
            seconds = 0
        if seconds > 0:
            cache.set(f"{self._cache_prefix}-{scope_key}", access_token, seconds)


class ToolLogin(DjangoOIDCLogin):
    """The OIDC login initiation for one registration; `start` records the state and nonce it sends."""

    def __init__(self, request, registration: LtiRegistration):
        super().__init__(request, RegistrationToolConf(registration), session_service=_NoLaunchCache(request))
        self.registration = registration

    def start(self, redirect_uri: str):
        """Validate the initiation and answer with the redirect to the platform's authentication endpoint."""
        redirect = self.get_redirect_object(redirect_uri)
        query = parse_qs(urlsplit(redirect.get_redirect_url()).query)
        now = timezone.now()
        LtiLogin.objects.filter(registration=self.registration, expires_at__lt=now - LOGIN_LIFETIME).delete()
        LtiLogin.objects.create(
            registration=self.registration,
            state=query["state"][0],
            nonce=query["nonce"][0],
            target_link_uri=(self._get_request_param("target_link_uri") or "")[:1000],
            expires_at=now + LOGIN_LIFETIME,
        )
        return redirect.do_redirect()


class ToolLaunch(DjangoMessageLaunch):
    """One launch POST, validated against one registration."""

    def __init__(self, request, registration: LtiRegistration):
        super().__init__(
            request,
            RegistrationToolConf(registration),
            session_service=_NoLaunchCache(request),
            requests_session=http_session(),
        )
        self.registration = registration
        self._login = None

    # --- nonce: issued by our login for this registration, once --------------------------------------------

    def validate_nonce(self):
        nonce = self._get_jwt_body().get("nonce")
        state = self._get_request_param("state")
        login = LtiLogin.objects.filter(registration=self.registration, state=state).first()
        if not nonce or login is None or login.nonce != nonce:
            raise LaunchRefused(
                _("This launch does not answer a login that fermonitor started for this LMS (unknown nonce).")
            )
        if login.used_at is not None:
            raise LaunchRefused(
                _("This launch was already used once. Open fermonitor from your course again.")
            )
        if login.expires_at <= timezone.now():
            raise LaunchRefused(
                _("This launch took too long and has expired. Open fermonitor from your course again.")
            )
        self._login = login
        return self

    def save_launch_data(self):
        # The library's last validation step; here it consumes the nonce, atomically, so two POSTs of the same
        # id token cannot both pass.
        with transaction.atomic():
            used = LtiLogin.objects.filter(pk=self._login.pk, used_at__isnull=True).update(
                used_at=timezone.now()
            )
        if not used:
            raise LaunchRefused(
                _("This launch was already used once. Open fermonitor from your course again.")
            )
        return self

    # --- signature and registered claims -------------------------------------------------------------------

    def get_public_key(self):
        url = self.registration.jwks_url
        cache_key = "lti-jwks-" + hashlib.sha256(url.encode()).hexdigest()
        cached = cache.get(cache_key)
        if cached:
            self._registration.set_key_set(cached)
            try:
                return super().get_public_key()
            except LtiException:
                pass  # the platform may have rotated its keys since we cached them: fetch them once more
        try:
            fresh = self.fetch_public_key(url)
        except LtiException as error:
            raise LaunchRefused(
                _("fermonitor could not read the LMS's public keys at %(url)s.") % {"url": url}, status=502
            ) from error
        if not isinstance(fresh, dict) or not isinstance(fresh.get("keys"), list):
            raise LaunchRefused(
                _("The LMS's public keyset at %(url)s is not a JWKS.") % {"url": url}, status=502
            )
        cache.set(cache_key, fresh, JWKS_CACHE_SECONDS)
        self._registration.set_key_set(fresh)
        try:
            return super().get_public_key()
        except LtiException as error:
            raise LaunchRefused(
                _("The launch is signed with a key the LMS does not publish (unknown key id).")
            ) from error

    def validate_jwt_signature(self):
        id_token = self._get_id_token()
        public_key, _alg = self.get_public_key()
        r = self.registration
        try:
            body = jwt.decode(
                id_token,
                public_key,
                algorithms=["RS256"],
                audience=r.client_id,
                issuer=r.issuer,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise LaunchRefused(
                _("This launch has expired. Open fermonitor from your course again.")
            ) from error
        except jwt.InvalidAudienceError as error:
            raise LaunchRefused(_("This launch was issued for another tool (wrong audience).")) from error
        except jwt.InvalidIssuerError as error:
            raise LaunchRefused(
                _("This launch comes from another LMS than the one registered (wrong issuer).")
            ) from error
        except jwt.MissingRequiredClaimError as error:
            raise LaunchRefused(
                _("The launch is missing the “%(claim)s” claim.") % {"claim": error.claim}, status=400
            ) from error
        except jwt.InvalidTokenError as error:
            raise LaunchRefused(_("The launch's signature is not valid.")) from error
        aud = body.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != r.client_id:
            raise LaunchRefused(
                _("This launch was issued for several tools but not authorised for this one (azp).")
            )
        return self


def explain(error: Exception) -> LaunchRefused:
    """A library error as a refusal a person can act on."""
    if isinstance(error, LaunchRefused):
        return error
    text = str(error)
    again = _("Open fermonitor from your course again.")
    known = {
        "Missing state param": (_("The launch has no state.") + " " + again, 400),
        "State not found": (
            _("This launch did not start in this browser (its login state is missing).")
            + " "
            + again
            + " "
            + _("If it keeps failing, open it in a new window."),
            403,
        ),
        "Registration not found.": (
            _("This launch was not issued for this LMS registration (unknown issuer or client id)."),
            403,
        ),
        "Client id not registered for this issuer": (
            _("This launch was issued for another tool (wrong audience)."),
            403,
        ),
        "Could not find registration details": (
            _(
                "This login was not started for this LMS registration (unknown issuer or client id), or the "
                "registration is incomplete or switched off."
            ),
            403,
        ),
        "Could not find issuer": (_("The login request names no issuer."), 400),
        "Could not find login hint": (_("The login request has no login hint."), 400),
    }
    if text in known:
        return LaunchRefused(*known[text])
    if "is not set" in text or "is empty" in text:
        return LaunchRefused(_("The launch is not valid: %(reason)s") % {"reason": text}, status=400)
    if "deployment" in text.lower():
        return LaunchRefused(_("This launch comes from a deployment that is not registered for this school."))
    if "JWT" in text or "id_token" in text:
        return LaunchRefused(_("The launch's id token is malformed."), status=400)
    return LaunchRefused(_("The launch is not valid: %(reason)s") % {"reason": text}, status=400)
