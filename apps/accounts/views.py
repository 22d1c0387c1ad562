"""Sign-up with a mobile number: allauth's own sign-up view (its rate limit, enumeration
prevention and login stages) with the phone form in place of the e-mail one."""

from allauth.account.views import SignupView

from .forms import PhoneSignupForm


class PhoneSignupView(SignupView):
    template_name = "account/signup_phone.html"

    def get_form_class(self):
        return PhoneSignupForm


signup_phone = PhoneSignupView.as_view()
