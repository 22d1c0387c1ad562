"""The Administrators' staff users page (/staff/users/): list staff, invite by e-mail, change a
role, deactivate (after a confirmation page) and reactivate. Administrators only; everyone else
gets 403. Views validate, call an accounts selector or service, and render; the rules (taken
addresses, the last Administrator, one's own rights) and the audit rows live in the service."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.roles import ROLE_LABELS, user_role
from apps.accounts.selectors import staff_user_get, staff_user_list
from apps.accounts.services import (
    staff_deactivate,
    staff_invite,
    staff_invite_resend,
    staff_reactivate,
    staff_role_change,
)
from apps.core.exceptions import ApplicationError

from ..forms_staff import StaffFilterForm, StaffInviteForm, StaffRoleForm
from ._helpers import paginate
from .form_page import FormPageView
from .mixins import AdministratorRequiredMixin


def _staff_or_404(pk: int):
    user = staff_user_get(pk=pk)
    if user is None:
        raise Http404
    return user


def _row(user) -> dict:
    role = user_role(user)
    return {
        "user": user,
        "role": role,
        "role_label": ROLE_LABELS.get(role, ""),
        "invited": not user.has_usable_password(),
    }


class StaffUserListView(AdministratorRequiredMixin, TemplateView):
    template_name = "dashboard/staff/list.html"

    def get_context_data(self, **kwargs):
        form = StaffFilterForm(self.request.GET or None)
        page_obj = paginate(staff_user_list(**form.filters()), self.request)
        return super().get_context_data(
            form=form,
            page_obj=page_obj,
            rows=[_row(user) for user in page_obj.object_list],
            **kwargs,
        )


class StaffUserDetailView(AdministratorRequiredMixin, TemplateView):
    template_name = "dashboard/staff/detail.html"

    def get_context_data(self, **kwargs):
        staff = _staff_or_404(self.kwargs["pk"])
        row = _row(staff)
        return super().get_context_data(
            row=row,
            staff=staff,
            is_self=staff.pk == self.request.user.pk,
            role_form=kwargs.pop("role_form", None) or StaffRoleForm(initial={"role": row["role"]}),
            **kwargs,
        )


class StaffInviteView(AdministratorRequiredMixin, FormPageView):
    form_class = StaffInviteForm
    template_name = "dashboard/staff/form.html"
    title = gettext_lazy("Invite a staff member")
    submit_label = gettext_lazy("Send the invitation")

    def save(self, form):
        self.invited = staff_invite(actor=self.request.user, **form.cleaned_data)
        self.success_message = _("Invitation sent to %(email)s.") % {"email": self.invited.email}

    def get_success_url(self):
        return reverse("dashboard:staff-user-list")


class StaffRoleChangeView(AdministratorRequiredMixin, View):
    def post(self, request, pk):
        staff = _staff_or_404(pk)
        form = StaffRoleForm(request.POST)
        if form.is_valid():
            try:
                staff_role_change(user=staff, role=form.cleaned_data["role"], actor=request.user)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Role changed."))
        else:
            messages.error(request, _("Choose a role."))
        return redirect("dashboard:staff-user-detail", pk=staff.pk)


class StaffDeactivateView(AdministratorRequiredMixin, TemplateView):
    """GET: what deactivating means, and a confirm button; POST: deactivate."""

    template_name = "dashboard/staff/deactivate.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(row=_row(_staff_or_404(self.kwargs["pk"])), **kwargs)

    def post(self, request, pk):
        staff = _staff_or_404(pk)
        try:
            staff_deactivate(user=staff, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(email)s is deactivated.") % {"email": staff.email})
        return redirect("dashboard:staff-user-detail", pk=staff.pk)


class StaffReactivateView(AdministratorRequiredMixin, View):
    def post(self, request, pk):
        staff = _staff_or_404(pk)
        staff_reactivate(user=staff, actor=request.user)
        messages.success(request, _("%(email)s can log in again.") % {"email": staff.email})
        return redirect("dashboard:staff-user-detail", pk=staff.pk)


class StaffInviteResendView(AdministratorRequiredMixin, View):
    def post(self, request, pk):
        staff = _staff_or_404(pk)
        try:
            staff_invite_resend(user=staff, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Invitation sent again to %(email)s.") % {"email": staff.email}
            )
        return redirect("dashboard:staff-user-detail", pk=staff.pk)
