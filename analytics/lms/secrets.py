"""Credentials fermonitor must use but never show again (the LRS secret, the LTI tools' private keys), encrypted
at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is derived from SECRET_KEY with HKDF, so there is nothing more to configure; keys derived from
SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY the Django way keeps stored secrets readable. A secret
encrypted under a key that is gone cannot be read: the admin is asked to enter it again.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

_INFO = b"fermonitor: integration credentials at rest"


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key this server no longer has."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(k) for k in keys])


def encrypt(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            _("A stored secret cannot be decrypted (SECRET_KEY changed); enter it again.")
        ) from None
