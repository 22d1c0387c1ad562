"""Answering surveys: the token link ``/s/<token>/`` (no login needed) and ``/me/surveys/``."""

from django.http import HttpResponse
from django.views import View


class SurveyAnswerView(View):  # replaced by the portal pages
    def get(self, request, token):
        return HttpResponse(status=404)


class MemberSurveyListView(View):  # replaced by the portal pages
    def get(self, request):
        return HttpResponse(status=404)
