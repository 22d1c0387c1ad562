from django.conf import settings

from .formatting import currency_symbol


def site(request):
    return {
        "CURRENCY": settings.CURRENCY,
        "CURRENCY_SYMBOL": currency_symbol(),
        "SITE_NAME": "Clientele",
    }
