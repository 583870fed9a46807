"""The tool's RSA keys, one current signing key per school, rotatable.

Private keys are stored encrypted (`analytics.lms.secrets`: a key derived from SECRET_KEY, SECRET_KEY_FALLBACKS
still decrypting), so a database dump alone does not let anyone sign as the school's tool.
"""

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from jwcrypto.jwk import JWK

from .. import secrets
from ..models import LtiKey
from ..models.lti import KEY_OVERLAP

KEY_SIZE = 2048


def private_pem(key: LtiKey) -> str:
    try:
        return secrets.decrypt(key.encrypted_private_key)
    except secrets.SecretUnreadable as error:
        raise RuntimeError(
            "An LTI private key cannot be decrypted: SECRET_KEY changed without keeping the old one in "
            "SECRET_KEY_FALLBACKS. Rotate the school's LTI key on its Integrations page."
        ) from error


def generate(school) -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_bytes = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The kid is the key's RFC 7638 thumbprint, which is also what pylti1p3 puts in the headers it signs.
    public = JWK.from_pem(public_bytes)
    jwk = {**json.loads(public.export_public()), "kid": public.thumbprint(), "alg": "RS256", "use": "sig"}
    return LtiKey.objects.create(
        school=school, kid=jwk["kid"], public_jwk=jwk, encrypted_private_key=secrets.encrypt(pem)
    )


def current_key(school) -> LtiKey:
    """The school's signing key, made the first time one is needed."""
    key = LtiKey.objects.filter(school=school, retired_at__isnull=True).order_by("-created_at", "-pk").first()
    if key is None:
        with transaction.atomic():
            key = (
                LtiKey.objects.select_for_update()
                .filter(school=school, retired_at__isnull=True)
                .order_by("-created_at", "-pk")
                .first()
            ) or generate(school)
    return key


def public_pem(key: LtiKey) -> str:
    return JWK(**key.public_jwk).export_to_pem().decode()


def rotate(school) -> LtiKey:
    """A new signing key; the old ones keep being published for KEY_OVERLAP, then are deleted."""
    now = timezone.now()
    with transaction.atomic():
        LtiKey.objects.filter(school=school, retired_at__isnull=True).update(retired_at=now)
        LtiKey.objects.filter(school=school, retired_at__lt=now - KEY_OVERLAP).delete()
        return generate(school)


def published_keys(school) -> list[LtiKey]:
    now = timezone.now()
    return list(
        LtiKey.objects.filter(school=school)
        .exclude(retired_at__lt=now - KEY_OVERLAP)
        .order_by(F("retired_at").asc(nulls_first=True), "-created_at")
    )


def jwks(school) -> dict:
    """Every published public key with its kid; the current key first."""
    current_key(school)
    return {"keys": [key.public_jwk for key in published_keys(school)]}
