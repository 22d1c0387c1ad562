"""Every staff and portal page, in English and Simplified Chinese, at desktop (1440 px) and phone
(390 px) width, on the seeded demo programme: each page must load (200, no redirect to sign-in),
raise no console error, fit the screen's width (tables scroll inside their card), show no raw
choice code or store code on a Chinese page, and show programme content (reward, tier, badge,
store, rule names) in the reader's language when it exists in both.

Screenshots of every page go to var/screenshots/sweep/ for review. The test collects every
problem of every page and fails once with the full list."""

import re
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.db.models import Count
from django.urls import reverse

from apps.analytics.models import Segment
from apps.campaigns.models import Campaign
from apps.complaints.models import Category, SavedReply, SLAPolicy, Team, Ticket
from apps.core.content import localized_fields, translated_fields
from apps.core.models import AuditEvent, BusinessCalendar, ExportJob
from apps.customers.demo import DEFAULT_PASSWORD
from apps.customers.models import Customer, PortalMessage, Store
from apps.loyalty.models import CouponBatch, EarnRule, Redemption, Reward, Tier
from apps.surveys.models import Choice, Invitation, Question, Survey
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import roles_restore

pytestmark = pytest.mark.django_db(transaction=True)


def _running_export() -> ExportJob:
    """A large customer export half written by a worker (its page shows the progress bar)."""
    staff = apps.get_model("accounts", "User").objects.get(email=STAFF)
    job = ExportJob.objects.filter(created_by=staff).first()
    return job or ExportJob.objects.create(
        kind="customers",
        fmt="xlsx",
        language="en",
        status=ExportJob.Status.RUNNING,
        total_rows=48_000,
        processed_rows=20_000,
        created_by=staff,
    )


LANGUAGES = ["en", "zh-hans"]
WIDTHS = [1440, 390]
STAFF = "admin@example.com"
MEMBER = "member1@example.com"

# Measured in the page: how far it overflows the viewport, which elements stick out (only
# looked for when it does), and the text a reader sees.
_INSPECT = """
() => {
  const width = window.innerWidth;
  const overflow = document.documentElement.scrollWidth - width;
  const culprits = [];
  if (overflow > 1) {
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.width && box.right > width + 1 && !el.closest(".table-responsive, .visually-hidden")) {
        culprits.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`);
        if (culprits.length >= 6) break;
      }
    }
  }
  // What a reader sees as words: code samples (import column names, coupon codes) are code,
  // and text marked translate="no" is a record quoted as written (audit summaries, what members
  // and staff wrote themselves).
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll("code, kbd, pre, script, template, [translate=no]").forEach((el) => el.remove());
  document.body.appendChild(copy);
  copy.hidden = false;
  const text = copy.innerText;
  copy.remove();
  return {overflow, culprits, text};
}
"""


@dataclass
class Sweep:
    problems: list[str] = field(default_factory=list)
    visited: int = 0


def _choice_codes() -> set[str]:
    """Every stored choice value of the project's models, and every store code: what a reader
    must never see on a Chinese page. Values that read as words or numbers in any language
    ("1", "API" as a label) are left out."""
    codes = set(Store.objects.values_list("code", flat=True))
    for model in apps.get_models():
        if not model.__module__.startswith("apps."):
            continue
        for f in model._meta.get_fields():
            if isinstance(f, models.Field) and f.choices and f.name != "preferred_language":
                codes.update(str(value) for value, _label in f.flatchoices if value)
    return {c for c in codes if re.fullmatch(r"[a-z][a-z0-9_-]+", c)}


def _content_in_other_language() -> dict[str, set[str]]:
    """For each language, the programme content a reader of it must not see: the other
    language's text of rows that are written in both."""
    hidden = {"en": set(), "zh-hans": set()}
    content = (Reward, Tier, EarnRule, Store, apps.get_model("loyalty", "Badge"))
    complaints = (Category, Team, SLAPolicy, SavedReply, BusinessCalendar, Segment, Campaign)
    for model in (*content, Survey, Question, Choice, *complaints):
        for name in translated_fields(model):
            en, zh = localized_fields(model, [name])
            for value_en, value_zh in model.objects.values_list(en, zh):
                if value_en and value_zh and value_en != value_zh:
                    if len(value_en) >= 4 and "\n" not in value_en:
                        hidden["zh-hans"].add(value_en)
                    if "\n" not in value_zh:
                        hidden["en"].add(value_zh)
    return hidden


def _staff_paths() -> list[str]:
    member = Customer.objects.get(user__email=MEMBER)
    chinese = Customer.objects.filter(last_name__regex=r"^[\u4e00-\u9fff]").first()
    other = Customer.objects.exclude(pk=member.pk).filter(merged_into__isnull=True).first()
    staff_detail = apps.get_model("accounts", "User").objects.get(email="manager@example.com")
    paths = [
        reverse("dashboard:home"),
        reverse("dashboard:customer-list"),
        reverse("dashboard:customer-create"),
        reverse("dashboard:customer-detail", args=[member.member_number]),
        reverse("dashboard:customer-edit", args=[member.member_number]),
        reverse("dashboard:order-list"),
        reverse("dashboard:duplicate-list"),
        reverse("dashboard:customer-merge", args=[member.member_number, other.member_number]),
        reverse("dashboard:data-import"),
        reverse("dashboard:loyalty-programme"),
        reverse("dashboard:loyalty-rule-list"),
        reverse("dashboard:loyalty-rule-create"),
        reverse("dashboard:loyalty-rule-edit", args=[EarnRule.objects.order_by("pk")[0].pk]),
        reverse("dashboard:loyalty-tier-list"),
        reverse("dashboard:loyalty-tier-create"),
        reverse("dashboard:loyalty-tier-edit", args=[Tier.objects.order_by("rank")[1].pk]),
        reverse("dashboard:loyalty-reward-list"),
        reverse("dashboard:loyalty-reward-create"),
        reverse("dashboard:loyalty-reward-edit", args=[Reward.objects.order_by("pk")[0].pk]),
        reverse("dashboard:loyalty-reward-restock", args=[Reward.objects.order_by("pk")[0].pk]),
        reverse("dashboard:loyalty-redemption-list"),
        reverse("dashboard:loyalty-coupon-list"),
        reverse("dashboard:loyalty-coupon-create"),
        reverse("dashboard:loyalty-coupon-batch", args=[CouponBatch.objects.order_by("pk")[0].pk]),
        reverse("dashboard:loyalty-customer", args=[member.member_number]),
        reverse("dashboard:loyalty-adjust", args=[member.member_number]),
        reverse("dashboard:loyalty-approval-list"),
        reverse("dashboard:loyalty-liability"),
        reverse("dashboard:loyalty-ledger"),
        reverse("dashboard:audit-list"),
        reverse("dashboard:audit-detail", args=[AuditEvent.objects.order_by("-pk")[0].pk]),
        reverse("dashboard:staff-user-list"),
        reverse("dashboard:staff-user-invite"),
        reverse("dashboard:staff-user-detail", args=[staff_detail.pk]),
        reverse("dashboard:survey-list"),
        reverse("dashboard:survey-create"),
        reverse("dashboard:ticket-list"),
        reverse("dashboard:ticket-list") + "?view=breached",
        reverse("dashboard:ticket-create"),
        reverse("dashboard:ticket-reports"),
        reverse("dashboard:ticket-approvals"),
        reverse("dashboard:calendar-list"),
        reverse("dashboard:calendar-import"),
        reverse("dashboard:calendar-detail", args=["cn-2026"])
        + "?start=2026-09-30T17:30&minutes=120",
    ]
    busy = Ticket.objects.annotate(n=Count("messages")).order_by("-n", "pk").first()
    if busy is not None:
        paths.append(reverse("dashboard:ticket-detail", args=[busy.reference]))
    survey = Survey.objects.annotate(n=Count("responses")).order_by("-n", "pk").first()
    if survey is not None:
        paths += [
            reverse(f"dashboard:{name}", args=[survey.pk])
            for name in (
                "survey-detail",
                "survey-answers",
                "survey-edit",
                "survey-questions",
                "survey-invite",
                "survey-preview",
            )
        ]
    paths += [
        reverse("dashboard:segment-list"),
        reverse("dashboard:segment-create"),
        reverse("dashboard:at-risk"),
        reverse("dashboard:analytics-model"),
        reverse("dashboard:kpi"),
        reverse("dashboard:kpi")
        + "?window=90&scope=store:"
        + str(Store.objects.order_by("pk")[0].pk),
        reverse("dashboard:kpi-customers", args=["churn_rate"]),
        reverse("dashboard:kpi-cohorts"),
        reverse("dashboard:kpi-cohorts") + "?measure=revenue&basis=first_purchase",
        reverse("dashboard:report-subscription-list"),
        reverse("dashboard:report-subscription-create"),
        reverse("dashboard:export-list"),
        reverse("dashboard:export-job", args=[_running_export().pk]),
    ]
    segment = Segment.objects.order_by("pk").first()
    if segment is not None:
        paths += [
            reverse("dashboard:segment-detail", args=[segment.pk]),
            reverse("dashboard:segment-edit", args=[segment.pk]),
            reverse("dashboard:customer-list") + f"?segment={segment.pk}",
        ]
    paths += [
        reverse("dashboard:campaign-list"),
        reverse("dashboard:campaign-create") + "?kind=broadcast",
        reverse("dashboard:campaign-create") + "?kind=triggered",
    ]
    # The demo's sent broadcast (results, messages) and a journey; the editor of a draft if any.
    sent = Campaign.objects.annotate(n=Count("messages")).order_by("-n", "pk").first()
    if sent is not None:
        paths += [
            reverse("dashboard:campaign-detail", args=[sent.pk]),
            reverse("dashboard:campaign-messages", args=[sent.pk]),
        ]
    trip = Campaign.objects.filter(kind="triggered").order_by("pk").first()
    if trip is not None:
        paths.append(reverse("dashboard:campaign-detail", args=[trip.pk]))
    draft = Campaign.objects.filter(status__in=["draft", "scheduled"]).order_by("pk").first()
    if draft is not None:
        paths.append(reverse("dashboard:campaign-edit", args=[draft.pk]))
    if chinese is not None:
        paths.append(reverse("dashboard:customer-detail", args=[chinese.member_number]))
    requested = Redemption.objects.filter(status="requested").order_by("pk").first()
    if requested is not None:
        paths.append(reverse("dashboard:loyalty-redemption-cancel", args=[requested.pk]))
    return paths


def _portal_paths() -> list[str]:
    member = Customer.objects.get(user__email=MEMBER)
    reward = Reward.objects.filter(is_active=True, kind="physical").order_by("cost_points")[0]
    paths = [
        reverse("portal:overview"),
        reverse("portal:card"),
        reverse("portal:points"),
        reverse("portal:rewards"),
        reverse("portal:reward-redeem", args=[reward.slug]),
        reverse("portal:coupons"),
        reverse("portal:referrals"),
        reverse("portal:profile"),
        reverse("portal:messages"),
        reverse("portal:privacy"),
        reverse("portal:delete"),
        reverse("portal:surveys"),
        reverse("portal:complaints"),
        reverse("portal:complaint-new"),
    ]
    paths += [
        reverse("portal:complaint-detail", args=[t.reference])
        for t in Ticket.objects.filter(customer=member).order_by("pk")[:2]
    ]
    invitation = (
        Invitation.objects.filter(customer=member, status="sent", completed_at__isnull=True)
        .order_by("pk")
        .first()
    )
    if invitation is not None:
        paths.append(reverse("portal:survey-answer", args=[invitation.token]))
    redemption = Redemption.objects.filter(account__customer=member).order_by("pk").first()
    if redemption is not None:
        paths.append(reverse("portal:redemption-detail", args=[redemption.pk]))
    message = PortalMessage.objects.filter(customer=member).order_by("pk").first()
    if message is not None:
        paths.append(reverse("portal:message-detail", args=[message.pk]))
    return paths


PUBLIC_PATHS = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/signup/phone/"]


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def _visit(sweep, page, path, *, language, width, codes, foreign_content):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    where = f"[{language} {width}px] {path}"
    response = page.goto(page.base_url + path)
    page.wait_for_load_state("networkidle")
    sweep.visited += 1
    if response is None or response.status != 200:
        sweep.problems.append(f"{where}: status {response.status if response else 'none'}")
        return
    if not page.url.split("?")[0].endswith(path.split("?")[0]):
        sweep.problems.append(f"{where}: redirected to {page.url}")
        return
    seen = page.evaluate(_INSPECT)
    if seen["overflow"] > 1:
        sweep.problems.append(
            f"{where}: {seen['overflow']}px wider than the screen ({', '.join(seen['culprits'])})"
        )
    for text in errors:
        sweep.problems.append(f"{where}: console error: {text[:200]}")
    if language == "zh-hans":
        words = set(re.findall(r"(?<![\w@./:-])[a-z][a-z0-9_-]+(?![\w@./-])", seen["text"]))
        if raw := sorted(words & codes):
            sweep.problems.append(f"{where}: raw codes {raw[:8]}")
    if leaked := sorted(t for t in foreign_content if t in seen["text"]):
        sweep.problems.append(f"{where}: content in the other language {leaked[:5]}")
    folder = SCREENSHOTS / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{language}-{width}-{_slug(path)}.png"))


def _context(browser, live_server, *, language: str, width: int):
    options = {"viewport": {"width": width, "height": 900 if width > 500 else 844}}
    if width < 500:
        options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
    context = browser.new_context(**options)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    return context


def _sign_in(page, email: str) -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("form[action='/accounts/login/'] input[name=login]", email)
    page.fill("form[action='/accounts/login/'] input[name=password]", DEFAULT_PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_every_page_reads_right_in_both_languages_at_both_widths(browser, live_server):
    roles_restore()  # an earlier transactional test's flush emptied the role groups
    call_command("seed_demo", customers=60, seed=42, force=True, verbosity=0)
    staff_paths, portal_paths = _staff_paths(), _portal_paths()
    codes, foreign = _choice_codes(), _content_in_other_language()
    sweep = Sweep()
    for language in LANGUAGES:
        for width in WIDTHS:
            for who, paths in ((None, PUBLIC_PATHS), (STAFF, staff_paths), (MEMBER, portal_paths)):
                context = _context(browser, live_server, language=language, width=width)
                page = context.new_page()
                page.set_default_timeout(20_000)
                page.base_url = live_server.url
                if who:
                    _sign_in(page, who)
                for path in paths:
                    tab = context.new_page()
                    tab.set_default_timeout(20_000)
                    tab.base_url = live_server.url
                    _visit(
                        sweep,
                        tab,
                        path,
                        language=language,
                        width=width,
                        codes=codes,
                        foreign_content=foreign[language],
                    )
                    tab.close()
                context.close()
    assert sweep.visited == len(LANGUAGES) * len(WIDTHS) * (
        len(PUBLIC_PATHS) + len(staff_paths) + len(portal_paths)
    )
    assert not sweep.problems, f"{len(sweep.problems)} problems:\n" + "\n".join(sweep.problems)
