"""Authentication and TLS: the server's SSL context (with optional client
certificates) and whether a request may pass (bearer token, verified client
certificate, or an endpoint anonymous users may read)."""

import ssl

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


def authenticated(token, client_ca, authorization, connection, path):
    """With neither a token nor a client CA every request passes. Otherwise a
    request needs the token or a verified client certificate; a wrong token
    never passes; the anonymous paths pass without credentials."""
    if not token and not client_ca:
        return True
    if authorization:
        return bool(token) and authorization == "Bearer " + token
    if client_ca and isinstance(connection, ssl.SSLSocket):
        try:
            if connection.getpeercert():
                return True
        except (ValueError, ssl.SSLError):
            pass
    return path in ANONYMOUS_PATHS
