"""A small LTI 1.3 Advantage platform (an LMS stand-in) on a real HTTP server, for the tool to talk to.

lti1p3platform builds and signs its launch messages (resource link, deep linking with NRPS and AGS claims),
issues service access tokens against the tool's client-assertion JWT (checked with the tool's public JWKS, fetched
over HTTP) and checks the tool's deep-linking response. Around it this module serves what an LMS serves, following
the specs: its JWKS, the OIDC authentication endpoint (checks client id and registered redirect URI, answers with
the auto-posting launch form), the token endpoint, NRPS memberships (paged with Link headers), AGS line items and
scores, the deep-linking return endpoint, and a course page that opens the tool in an iframe or a new window.

Nothing here imports fermonitor: the tool is reached only over HTTP.
"""

import copy
import html
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration

VOCAB = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = VOCAB + "membership#Learner"
INSTRUCTOR = VOCAB + "membership#Instructor"
ADMINISTRATOR = VOCAB + "institution/person#Administrator"
MENTOR = VOCAB + "membership#Mentor"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class Person:
    sub: str
    given_name: str
    family_name: str
    email: str
    roles: list[str]
    status: str = "Active"

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass
class LaunchSpec:
    """What the next authentication answers with, and how it is spoiled for bad-launch tests."""

    message_type: str = "LtiResourceLinkRequest"
    custom: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)  # claims replaced in the signed message
    remove: tuple = ()  # claims left out of the signed message
    expires_in: int = 300
    issued_ago: int = 0  # seconds: with expires_in < issued_ago the token is already expired
    signing_key: str | None = None  # another private key (not in the JWKS); kid stays the platform's
    kid: str | None = None  # another kid in the header
    tamper: bool = False  # change the payload after signing
    with_services: bool = True  # NRPS and AGS claims


class _Conf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, registration: Registration) -> None:
        self._registration = registration

    def get_registration_by_params(self, **kwargs):
        return self._registration


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, preflight: dict, conf):
        class _Request:
            get_data = preflight
            form_data: dict = {}

        super().__init__(_Request(), conf)

    def render_launch_form(self, launch_data, **kwargs):
        return launch_data


class Platform:
    def __init__(
        self, *, host: str = "127.0.0.1", public_host: str | None = None, client_id: str = "fm-client"
    ):
        self.private_key, self.public_key = rsa_pem_pair()
        self.client_id = client_id
        self.deployment_id = "deployment-1"
        self.context = {"id": "course-42", "title": "Physics 2B", "label": "PHY2B"}
        self.people: dict[str, Person] = {}
        self.members_page_size = 2
        self.tool_jwks_url = ""
        self.tool_login_url = ""
        self.tool_launch_url = ""
        self.redirect_uris: list[str] = []
        self.specs: dict[str, LaunchSpec] = {}
        self.lineitems: list[dict] = []
        self.scores: dict[str, list[dict]] = {}
        self.deep_link_returns: list[list[dict]] = []
        self.token_requests: list[dict] = []
        self.service_calls: list[tuple[str, str]] = []
        self.auth_requests: list[dict] = []
        self.outage = False  # True: every service endpoint answers 503
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self.port = self._server.server_address[1]
        self.base = f"http://{public_host or host}:{self.port}"
        self.issuer = self.base
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------------------------

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    # --- what the tool's admin copies into fermonitor ---------------------------------------------------------

    @property
    def urls(self) -> dict:
        return {
            "issuer": self.issuer,
            "auth_login_url": f"{self.base}/auth",
            "auth_token_url": f"{self.base}/token",
            "jwks_url": f"{self.base}/jwks",
        }

    def connect_tool(self, *, login_url: str, launch_url: str, jwks_url: str) -> None:
        """What the LMS admin pastes from fermonitor's registration page."""
        self.tool_login_url = login_url
        self.tool_launch_url = launch_url
        self.redirect_uris = [launch_url]
        self.tool_jwks_url = jwks_url

    def add_person(
        self, sub: str, given: str, family: str, roles: list[str], email: str | None = None
    ) -> Person:
        person = Person(
            sub, given, family, email or f"{given.lower()}.{family.lower()}@lms.example.org", roles
        )
        self.people[sub] = person
        return person

    # --- the registration as lti1p3platform sees it ---------------------------------------------------------

    def _registration(self) -> Registration:
        return (
            Registration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_launch_url(self.tool_launch_url)
            .set_deeplink_launch_url(self.tool_launch_url)
            .set_oidc_login_url(self.tool_login_url)
            .set_tool_key_set_url(self.tool_jwks_url)
            .set_platform_public_key(self.public_key)
            .set_platform_private_key(self.private_key)
        )

    def conf(self) -> _Conf:
        return _Conf(registration=self._registration())

    @property
    def kid(self) -> str:
        return self._registration().get_kid()

    def jwks(self) -> dict:
        return {"keys": self._registration().get_jwks()}

    # --- starting a launch, as the LMS's course page does -----------------------------------------------------

    def login_initiation(self, sub: str, spec: LaunchSpec | None = None, *, client_id: bool = True) -> dict:
        """The third-party login initiation parameters for `sub` opening the tool (spec: what to launch)."""
        hint = uuid.uuid4().hex
        self.specs[hint] = spec or LaunchSpec()
        params = {
            "iss": self.issuer,
            "login_hint": sub,
            "target_link_uri": self.tool_launch_url,
            "lti_message_hint": hint,
            "lti_deployment_id": self.deployment_id,
        }
        if client_id:
            params["client_id"] = self.client_id
        return params

    def login_initiation_url(self, sub: str, spec: LaunchSpec | None = None) -> str:
        return f"{self.tool_login_url}?{urlencode(self.login_initiation(sub, spec))}"

    # --- the id token ---------------------------------------------------------------------------------------

    def id_token(self, preflight: dict, spec: LaunchSpec) -> str:
        person = self.people[preflight["login_hint"]]
        launch = _Launch(preflight, self.conf())
        launch._registration = launch._platform_config.get_registration()
        launch.set_user_data(person.sub, person.roles, full_name=person.name, email_address=person.email)
        launch.set_extra_claims({"given_name": person.given_name, "family_name": person.family_name})
        launch.set_launch_context_claim(
            self.context["id"],
            context_types=["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            context_title=self.context["title"],
            context_label=self.context["label"],
        )
        launch.set_launch_presentation_claim(
            document_target="iframe", return_url=f"{self.base}/course/return"
        )
        launch.set_extra_claims(
            {
                "https://purl.imsglobal.org/spec/lti/claim/tool_platform": {
                    "url": self.base,
                    "name": "Test LMS",
                }
            }
        )
        if spec.custom:
            launch.set_custom_parameters_claim(spec.custom)
        if spec.with_services:
            launch.set_nrps(f"{self.base}/nrps")
            launch.set_ags(lineitems_url=f"{self.base}/lineitems", allow_creating_lineitems=True)
        if spec.message_type == "LtiDeepLinkingRequest":
            launch.set_dl(
                f"{self.base}/deep-link-return",
                title="Add",
                accept_types={"ltiResourceLink"},
                extra_data={"n": 7},
            )
            message, _state = launch.get_launch_data()
            message["https://purl.imsglobal.org/spec/lti/claim/message_type"] = "LtiDeepLinkingRequest"
            message.update(launch._deep_linking_launch_data)
        else:
            launch.set_resource_link_claim("link-1", title="Live lesson")
            message, _state = launch.get_launch_data()
        message = copy.deepcopy(message)
        now = int(time.time())
        message["iat"] = now - spec.issued_ago
        message["exp"] = now - spec.issued_ago + spec.expires_in
        message.update(spec.overrides)
        for name in spec.remove:
            message.pop(name, None)
        headers = {"kid": spec.kid or self.kid}
        token = jwt.encode(message, spec.signing_key or self.private_key, algorithm="RS256", headers=headers)
        if spec.tamper:
            head, body, signature = token.split(".")
            changed = dict(message, sub=message.get("sub", "") + "-forged")
            body = jwt.utils.base64url_encode(json.dumps(changed).encode()).decode()
            token = ".".join([head, body, signature])
        return token

    # --- services -------------------------------------------------------------------------------------------

    def check_bearer(self, header: str, scope: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        try:
            return self.conf().validate_token(header[len("Bearer ") :], allowed_scopes=[scope])
        except Exception:
            return False

    def memberships(self) -> list[dict]:
        return [
            {
                "status": p.status,
                "name": p.name,
                "given_name": p.given_name,
                "family_name": p.family_name,
                "email": p.email,
                "user_id": p.sub,
                "roles": p.roles,
            }
            for p in self.people.values()
        ]

    # --- HTTP -----------------------------------------------------------------------------------------------

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body, content_type="application/json", headers=None):
                data = (
                    body
                    if isinstance(body, bytes)
                    else (json.dumps(body) if not isinstance(body, str) else body).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _form(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                return {k: v[0] for k, v in parse_qs(raw).items()}

            def _json(self):
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/jwks":
                    return self._send(200, platform.jwks())
                if url.path == "/auth":
                    return self._auth(query)
                if url.path == "/nrps":
                    return self._send(503, {"error": "maintenance"}) if platform.outage else self._nrps(query)
                if url.path == "/lineitems":
                    return self._lineitems_get()
                if url.path == "/course":
                    return self._course(query)
                if url.path == "/course/return":
                    return self._send(200, "<p>Back in the course</p>", "text/html")
                return self._send(404, {"error": "not found"})

            def do_POST(self):
                url = urlsplit(self.path)
                if platform.outage and url.path != "/auth":
                    return self._send(503, {"error": "maintenance"})
                if url.path == "/auth":
                    return self._auth(self._form())
                if url.path == "/token":
                    return self._token(self._form())
                if url.path == "/lineitems":
                    return self._lineitems_post(self._json())
                if url.path.startswith("/lineitems/") and url.path.endswith("/scores"):
                    return self._score(url.path.split("/")[2], self._json())
                if url.path == "/deep-link-return":
                    return self._deep_link_return(self._form())
                return self._send(404, {"error": "not found"})

            # OIDC authentication: the platform checks what the tool asks for, then posts the launch back.
            def _auth(self, params):
                platform.auth_requests.append(params)
                expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post"}
                if any(params.get(k) != v for k, v in expected.items()) or params.get("prompt") != "none":
                    return self._send(400, {"error": "invalid_request"})
                if params.get("client_id") != platform.client_id:
                    return self._send(400, {"error": "unauthorized_client"})
                if params.get("redirect_uri") not in platform.redirect_uris:
                    return self._send(400, {"error": "invalid_redirect_uri"})
                if params.get("login_hint") not in platform.people or not params.get("nonce"):
                    return self._send(400, {"error": "login_required"})
                spec = platform.specs.get(params.get("lti_message_hint", ""))
                if spec is None:
                    return self._send(400, {"error": "invalid_request", "detail": "unknown lti_message_hint"})
                token = platform.id_token(params, spec)
                body = (
                    f'<!doctype html><html><body><form id="launch" method="post" action="{html.escape(params["redirect_uri"])}">'
                    f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
                    f'<input type="hidden" name="state" value="{html.escape(params["state"])}">'
                    "<noscript><button>Continue</button></noscript></form>"
                    "<script>document.getElementById('launch').submit()</script></body></html>"
                )
                return self._send(200, body, "text/html")

            def _token(self, form):
                platform.token_requests.append(form)
                assertion = form.get("client_assertion", "")
                try:
                    claims = jwt.decode(assertion, options={"verify_signature": False})
                    conf = platform.conf()
                    answer = conf.get_access_token(form)  # verifies the signature with the tool's JWKS
                except Exception as error:
                    return self._send(401, {"error": "invalid_client", "detail": str(error)})
                if (claims.get("iss"), claims.get("sub")) != (platform.client_id, platform.client_id):
                    return self._send(401, {"error": "invalid_client"})
                if claims.get("aud") != platform.urls["auth_token_url"]:
                    return self._send(401, {"error": "invalid_client", "detail": "aud"})
                return self._send(200, answer)

            def _nrps(self, query):
                platform.service_calls.append(("GET", self.path))
                if not platform.check_bearer(self.headers.get("Authorization", ""), SCOPE_NRPS):
                    return self._send(401, {"error": "invalid_token"})
                members = platform.memberships()
                start = int(query.get("page", "0"))
                size = platform.members_page_size
                headers = {}
                if start + size < len(members):
                    headers["Link"] = f'<{platform.base}/nrps?page={start + size}>; rel="next"'
                body = {
                    "id": f"{platform.base}/nrps",
                    "context": platform.context,
                    "members": members[start : start + size],
                }
                return self._send(
                    200, body, "application/vnd.ims.lti-nrps.v2.membershipcontainer+json", headers
                )

            def _lineitems_get(self):
                platform.service_calls.append(("GET", self.path))
                if not platform.check_bearer(self.headers.get("Authorization", ""), SCOPE_LINEITEM):
                    return self._send(401, {"error": "invalid_token"})
                return self._send(
                    200, platform.lineitems, "application/vnd.ims.lis.v2.lineitemcontainer+json"
                )

            def _lineitems_post(self, item):
                platform.service_calls.append(("POST", self.path))
                if not platform.check_bearer(self.headers.get("Authorization", ""), SCOPE_LINEITEM):
                    return self._send(401, {"error": "invalid_token"})
                item = dict(item, id=f"{platform.base}/lineitems/{len(platform.lineitems) + 1}")
                platform.lineitems.append(item)
                return self._send(201, item, "application/vnd.ims.lis.v2.lineitem+json")

            def _score(self, number, score):
                platform.service_calls.append(("POST", self.path))
                if not platform.check_bearer(self.headers.get("Authorization", ""), SCOPE_SCORE):
                    return self._send(401, {"error": "invalid_token"})
                lineitem_id = f"{platform.base}/lineitems/{number}"
                if not any(i["id"] == lineitem_id for i in platform.lineitems):
                    return self._send(404, {"error": "no such line item"})
                platform.scores.setdefault(lineitem_id, []).append(
                    {"content_type": self.headers.get("Content-Type"), **score}
                )
                return self._send(200, b"", "application/json")

            def _deep_link_return(self, form):
                try:
                    items = platform.conf().validate_deeplinking_resp(form)
                except Exception as error:
                    return self._send(400, {"error": str(error)})
                response = jwt.decode(form["JWT"], options={"verify_signature": False})
                platform.deep_link_returns.append({"items": items, "response": response})
                return self._send(200, "<p id='added'>Added to the course</p>", "text/html")

            # The course page: the launch opens in an iframe or a new window, like Moodle and Canvas.
            def _course(self, query):
                sub = query.get("user", "")
                iframe = platform.login_initiation(sub)
                window = platform.login_initiation(sub)

                def form(form_id, target, params):
                    inputs = "".join(
                        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                        for k, v in params.items()
                    )
                    return (
                        f'<form method="post" action="{html.escape(platform.tool_login_url)}" '
                        f'target="{target}">{inputs}<button type="submit" id="{form_id}">{form_id}</button></form>'
                    )

                body = (
                    "<!doctype html><html><head><title>Physics 2B – Test LMS</title></head><body>"
                    "<h1>Physics 2B</h1>"
                    + form("open-in-frame", "tool-frame", iframe)
                    + form("open-in-window", "_blank", window)
                    + '<iframe name="tool-frame" id="tool-frame" style="width:1100px;height:700px" '
                    'allow="camera; microphone"></iframe></body></html>'
                )
                return self._send(200, body, "text/html")

        return Handler
