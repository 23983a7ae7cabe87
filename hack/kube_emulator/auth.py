"""Authentication and TLS: the server's SSL context (with optional client
certificates) and who a request is (the admin token, a ServiceAccount token,
a verified client certificate, or anonymous on the public endpoints)."""

import hmac
import ssl

from .rbac import MASTERS
from .tokens import ADMIN, ANONYMOUS, User, authenticate_token

ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz")


def ssl_context(tls_cert, tls_key, client_ca):
    """The server side context, or None without a certificate."""
    if not tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_cert, tls_key)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def authenticate(emu, authorization, connection, path):
    """The User of a request, or None (401).

    With neither --token nor --client-ca, a request without credentials is
    the admin. A bearer token is the admin's (--token) or a ServiceAccount
    token the emulator issued (tokens.py); any other token is refused. A
    verified client certificate is its CN, in system:masters. Without
    credentials, the anonymous paths pass as system:anonymous."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        if emu.token and hmac.compare_digest(token.encode(), emu.token.encode()):
            return ADMIN
        return authenticate_token(emu.issuer, emu.store, token)
    if not emu.token and not emu.client_ca:
        return ADMIN
    if emu.client_ca and isinstance(connection, ssl.SSLSocket):
        try:
            cert = connection.getpeercert()
        except (ValueError, ssl.SSLError):
            cert = None
        if cert:
            cn = ""
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
            return User(cn, [MASTERS, "system:authenticated"])
    if path in ANONYMOUS_PATHS:
        return ANONYMOUS
    return None
