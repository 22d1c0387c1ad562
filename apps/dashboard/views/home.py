from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.views.generic import TemplateView


class HomeView(LoginRequiredMixin, UserPassesTestMixin, TemplateView):
    template_name = "dashboard/home.html"

    def test_func(self):
        return self.request.user.is_staff
