"""Campaign tracking links: the open pixel and the signed click redirect. Both answer the same
for a bad token as for a good one where it matters (the pixel is always a pixel); a click on an
altered link goes nowhere (404) rather than to an address we did not sign."""

import base64

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.views import View

from apps.campaigns.services.tracking import message_click_record, message_open_record

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class OpenPixelView(View):
    def get(self, request, token):
        message_open_record(token=token)
        response = HttpResponse(PIXEL, content_type="image/gif")
        add_never_cache_headers(response)
        return response


class ClickView(View):
    def get(self, request, token):
        url = message_click_record(token=token)
        if url is None:
            raise Http404
        response = HttpResponseRedirect(url)
        add_never_cache_headers(response)
        return response
