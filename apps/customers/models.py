import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.content import is_cjk
from apps.core.models import TimeStampedModel

from .enums import (
    Channel,
    ConsentPurpose,
    Gender,
    InteractionKind,
    OrderChannel,
    OrderStatus,
    Source,
    StoreKind,
)

MONEY = {"max_digits": 12, "decimal_places": 2}


CONSENT_SOURCES = {
    "portal": _("Member portal"),
    "portal_signup": _("Portal sign-up"),
    "unsubscribe_link": _("Unsubscribe link"),
    "import": _("Import"),
    "staff": _("Staff"),
    "store": _("In store"),
    "api": _("API"),
    "merge": _("Customer merge"),
}


def consent_source_label(source: str) -> str:
    """A consent change's source in words; ``api:<key>`` names the integration key."""
    head, _sep, detail = source.partition(":")
    label = CONSENT_SOURCES.get(head)
    if label is None:
        return source
    return f"{label} ({detail})" if detail else str(label)


class Store(TimeStampedModel):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    city = models.CharField(_("city"), max_length=80, blank=True)
    kind = models.CharField(
        _("kind"), max_length=10, choices=StoreKind.choices, default=StoreKind.OFFLINE
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """``name`` is the tag's identifier (imports, the API and filters match it); ``label`` is
    how it reads, per language (``label_en``, ``label_zh_hans``), the name when empty."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    label = models.CharField(
        _("label"),
        max_length=50,
        blank=True,
        help_text=_("How the tag reads in each language; empty shows its name."),
    )
    color = models.CharField(_("colour"), max_length=20, default="secondary")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display(self) -> str:
        return self.label or self.name


class Customer(TimeStampedModel):
    """A member of the programme. ``member_number`` is the public identifier (cards, API, tills);
    the database id never leaves the system."""

    member_number = models.CharField(_("member number"), max_length=16, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("portal account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )
    first_name = models.CharField(_("first name"), max_length=80, blank=True)
    last_name = models.CharField(_("last name"), max_length=80, blank=True)
    email = models.EmailField(_("e-mail"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=12, choices=Gender.choices, blank=True)
    city = models.CharField(_("city"), max_length=80, blank=True)
    region = models.CharField(_("region"), max_length=80, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now, db_index=True)
    source = models.CharField(
        _("source"), max_length=12, choices=Source.choices, default=Source.STAFF
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("enrolment store"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrolled_customers",
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    anonymized_at = models.DateTimeField(_("anonymised"), null=True, blank=True)
    # A duplicate merged into another customer keeps its row (old cards and links still name
    # its member number) and points at the survivor; only ``customer_merge`` writes these.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_away",
    )
    merged_at = models.DateTimeField(_("merged"), null=True, blank=True)
    # Lower-cased "name email phone member_number", written by the services; one trigram index
    # on PostgreSQL makes search-as-you-type fast at any size.
    search_text = models.TextField(editable=False, default="")

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-joined_at", "-id"]
        permissions = [
            ("export_customer", _("Can export customers")),
            ("import_customer", _("Can import customers")),
            ("tag_customer", _("Can tag and untag customers")),
            ("merge_customer", _("Can merge duplicate customers")),
        ]
        indexes = [models.Index(fields=["last_name", "first_name"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="customers_customer_not_merged_self"
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | Q(merged_into__isnull=False, merged_at__isnull=False),
                name="customers_customer_merged_pointer_and_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.member_number})"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def display_name(self) -> str:
        if self.anonymized_at:
            return str(_("Anonymised member"))
        if is_cjk(self.last_name + self.first_name):
            name = f"{self.last_name}{self.first_name}"  # 张伟: family name first, no space
        else:
            name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.member_number

    @property
    def greeting_name(self) -> str:
        """How to greet the member: a Chinese name whole, family name first (张伟), a Western
        one by the first name (Mia); blank when no name is known."""
        if self.anonymized_at:
            return ""
        if is_cjk(self.last_name + self.first_name):
            return f"{self.last_name}{self.first_name}"
        return self.first_name or self.last_name

    @property
    def masked_name(self) -> str:
        """A name shown to someone else (a referrer seeing their friends): 张* or Mia M."""
        if self.anonymized_at:
            return ""
        if is_cjk(self.last_name + self.first_name):
            return (self.last_name or self.first_name[:1]) + "*" * max(1, len(self.first_name))
        if self.first_name and self.last_name:
            return f"{self.first_name} {self.last_name[0]}."
        return self.first_name

    @property
    def initials(self) -> str:
        if is_cjk(self.last_name + self.first_name):
            return (self.last_name or self.first_name)[:1] or "#"  # 吴涛 → 吴
        parts = [p for p in (self.first_name, self.last_name) if p]
        return "".join(p[0] for p in parts).upper()[:2] or "#"


class ConsentRecord(models.Model):
    """History of consent: one row per change; the latest per (channel, purpose) wins."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    granted = models.BooleanField(_("granted"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=40)
    evidence = models.CharField(_("evidence"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "channel", "purpose", "-at"])]

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.customer_id} {self.channel}/{self.purpose} {state}"

    @property
    def source_label(self) -> str:
        """Where the change came from, in words ("Member portal", "API (till-sh-01)")."""
        return consent_source_label(self.source)


class Order(TimeStampedModel):
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="orders"
    )
    external_id = models.CharField(_("external id"), max_length=64)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    placed_at = models.DateTimeField(_("placed at"), db_index=True)
    channel = models.CharField(
        _("channel"), max_length=12, choices=OrderChannel.choices, default=OrderChannel.STORE
    )
    total = models.DecimalField(_("total"), **MONEY, validators=[MinValueValidator(Decimal(0))])
    discount = models.DecimalField(_("discount"), **MONEY, default=Decimal(0))
    coupon_code = models.CharField(_("coupon code"), max_length=40, blank=True)
    refunded_amount = models.DecimalField(_("refunded"), **MONEY, default=Decimal(0))
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        permissions = [
            ("export_order", _("Can export orders")),
            ("import_order", _("Can import orders")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "external_id"], name="customers_order_store_external_uniq"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="customers_order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("total")),
                name="customers_order_refunded_within_total",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-placed_at"])]

    def __str__(self) -> str:
        return f"{self.store_id}/{self.external_id}"

    @property
    def refundable(self) -> Decimal:
        return self.total - self.refunded_amount


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=80, blank=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=10, decimal_places=3, default=Decimal(1)
    )
    unit_price = models.DecimalField(_("unit price"), **MONEY)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField(_("refund id"), max_length=64)
    amount = models.DecimalField(
        _("amount"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))]
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "refund_id"], name="customers_refund_order_refund_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="customers_refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.order} refund {self.refund_id}"


class Interaction(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    summary = models.CharField(_("summary"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"


class ImportJob(models.Model):
    """One uploaded customers/orders file, worked on by a Celery task in two passes: the dry
    run (pending → validating → previewed, or failed when the file has errors), then, once
    staff confirm (``queued_at``), the real import (validating → running → done or failed).
    Progress columns and ``heartbeat_at`` are written by the import service as it goes."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        ORDERS = "orders", _("Orders")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        VALIDATING = "validating", _("Validating")
        PREVIEWED = "previewed", _("Previewed")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(_("stored path"), max_length=500)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("total rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("processed rows"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("error messages"), default=list, blank=True)
    # First parsed rows of the dry run, and the counts of the finished import.
    preview = models.JSONField(_("preview"), default=list, blank=True)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Last sign of life of the worker on a validating/running job: a job whose worker died
    # is told apart from a slow one by it (see apps.customers.imports.import_job_run).
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class PortalMessage(models.Model):
    """A message in the member's portal inbox. Campaigns, the loyalty engine and the system write
    here through ``portal_message_send``; the member reads them at /me/messages/. ``key`` makes
    a writer's retry harmless (unique when given)."""

    class Kind(models.TextChoices):
        SYSTEM = "system", _("Account")
        CAMPAIGN = "campaign", _("Offer")
        LOYALTY = "loyalty", _("Rewards")
        SERVICE = "service", _("Service")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SYSTEM)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    key = models.CharField(max_length=120, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("portal message")
        verbose_name_plural = _("portal messages")
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["customer", "-sent_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.subject}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class ErasedContact(models.Model):
    """Suppression list: an e-mail address or phone number of an erased customer, kept only as
    ``apps.customers.identifiers.contact_digest`` (SHA-256 of ``email:``/``phone:`` and the
    normalised value), never in plain text. Imports refuse rows carrying one, so a stale file
    cannot bring the person back; the person may still join again themselves."""

    digest = models.CharField(_("digest"), max_length=64, unique=True, db_index=True)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)

    class Meta:
        verbose_name = _("erased contact")
        verbose_name_plural = _("erased contacts")

    def __str__(self) -> str:
        return self.digest
