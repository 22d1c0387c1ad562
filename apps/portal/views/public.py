from django.shortcuts import redirect
from django.views.generic import TemplateView


class HomeView(TemplateView):
    """The public landing page; signed-in members go straight to their overview."""

    template_name = "portal/home.html"

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_staff:
            return redirect("portal:overview")
        return super().get(request, *args, **kwargs)
