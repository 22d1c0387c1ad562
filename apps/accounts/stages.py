"""allauth login stages adapted to members who sign in with a mobile number."""

from allauth.account import stages
from allauth.account.adapter import get_adapter


class EmailVerificationStage(stages.EmailVerificationStage):
    """allauth's mandatory e-mail verification, except for a sign-in (or sign-up) that used no
    e-mail address by an account whose mobile number is verified: a member who signed up with
    their phone has no address to verify, and proved the number with an SMS code (the phone
    verification stage runs before this one). A sign-in with an e-mail address, and every
    account without a verified phone, is held to the e-mail rule exactly as before."""

    def handle(self):
        user = self.login.user
        if user is not None and not self.login.email:
            phone = get_adapter(self.request).get_phone(user)
            if phone is not None and phone[1]:
                return None, True
        return super().handle()
