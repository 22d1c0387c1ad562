import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.content import is_cjk


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in: staff (``is_staff``) and portal members. The login is the e-mail
    address or, for members, the mobile number (signed up with an SMS code, no e-mail needed:
    ``email`` is then NULL). The phone is kept here, one per account, because allauth's phone
    support asks the adapter to store exactly one number and whether it is verified; a verified
    number belongs to one account only (a database constraint)."""

    email = models.EmailField(
        _("e-mail address"), max_length=254, unique=True, null=True, blank=True
    )
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("Can use the staff dashboard.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    language = models.CharField(_("language"), max_length=10, blank=True)
    # E.164, written only by accounts.services (through the allauth adapter).
    phone = models.CharField(_("mobile number"), max_length=20, blank=True, db_index=True)
    phone_verified = models.BooleanField(_("mobile number verified"), default=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_uniq"),
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(phone_verified=True),
                name="accounts_user_verified_phone_uniq",
            ),
            models.CheckConstraint(
                condition=Q(phone_verified=False) | ~Q(phone=""),
                name="accounts_user_verified_phone_not_blank",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.phone or f"#{self.pk}"

    def get_full_name(self) -> str:
        return self.full_name or str(self)

    def get_short_name(self) -> str:
        """How to greet: a Chinese name whole (王芳), a Western one by its first word."""
        name = self.get_full_name()
        if is_cjk(name):
            return name
        return name.split(" ")[0]

    @property
    def display_name(self) -> str:
        if self.full_name:
            return self.full_name
        return self.email.split("@")[0] if self.email else str(self)


class ApiKey(models.Model):
    """An integration key (till, shop, app). Only a SHA-256 of the key is stored; the key itself
    is shown once at creation. Keys are 256-bit random, so a fast hash is enough."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()
