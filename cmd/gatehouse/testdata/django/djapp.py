"""A one-file Django application for the proxy tests: /info reports what
Django makes of the request (is_secure, the client's address, the scheme)."""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    # No SECURE_PROXY_SSL_HEADER: the server in front says whether the
    # request was secure through wsgi.url_scheme, as gunicorn's
    # forwarded_allow_ips does.
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def info(request):
    m = request.META
    return HttpResponse(
        "secure=%s remote=%s scheme=%s xfp=%s xff=%s\n"
        % (request.is_secure(), m.get("REMOTE_ADDR", ""), request.scheme,
           m.get("HTTP_X_FORWARDED_PROTO", ""), m.get("HTTP_X_FORWARDED_FOR", "")),
        content_type="text/plain",
    )


urlpatterns = [path("info", info)]
application = get_wsgi_application()
