from django.conf import settings


def client_ip(request) -> str:
    """The client's address: the socket peer, or the X-Forwarded-For entry our own proxies appended.

    Only the last TRUSTED_PROXY_COUNT entries were written by proxies we run; anything to their left
    came from the client and could be forged, so it is never used.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
