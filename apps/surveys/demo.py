"""Demo surveys for ``manage.py seed_demo`` (registered in ``SurveysConfig.ready``, after loyalty).

Two live surveys, both in English and Chinese:

* ``store-nps`` — "How likely are you to recommend us?": NPS, staff friendliness (1–5), product
  quality (1–5), found everything (yes / no), reason for the visit (single choice), and "what
  could we have done better?" shown to detractors (0–6) only. Sent monthly to a sample of the
  members.
* ``post-purchase`` — a CSAT survey after a purchase (trigger after_purchase, 1 day later,
  30% sample) with an effort (CES) question and an optional comment.

Consent first: the customers step gives about 45% of the members with an e-mail address the
``surveys`` consent at enrolment; here some more say yes later in the preference centre (about
60% in all), and the two demo member logins agree to portal invitations.

Invitations are real: twelve months are replayed wave by wave through ``invitations_issue`` (the
consent, the 30-day cooldown across surveys, the sample and the exactly-once keys all apply),
dated at the wave. Their e-mails are marked as sent then (so nothing is mailed to demo
addresses today). Responses are written set-based, not through ``response_submit``: thousands
of submits cost a minute, and an old response must not open a follow-up ticket or pay points
today. The bulk path keeps what the service keeps: the headline scores and group on the row,
answers only to questions shown (the comment only for detractors), the invitation's opened /
started / completed times, the member's tier and the invitation's store.

Scores come from a small latent model so the analysis has something true to find: each member
has a mood; each visit a staff and a product experience; the NPS leans on staff (0.6) more than
product (0.35), so the key-driver correlation ranks staff first; the mood improves slowly over
the year (NPS about +20 a year ago, +35 lately). Comments are drawn from the weakest driver, in
the member's language.

The demo member logins answer every survey they get until six weeks ago; ``member1@example.com``
then holds one open portal invitation, so
``/me/surveys/`` and the 360° page show both.
"""

import datetime as dt
import math
import random
from collections import defaultdict

from django.utils import timezone

from apps.customers import demo
from apps.customers.enums import Channel, ConsentPurpose
from apps.customers.models import ConsentRecord, Customer, Order
from apps.loyalty.models import LoyaltyAccount

from .enums import (
    EmailStatus,
    InvitationChannel,
    InvitationStatus,
    Measure,
    QuestionType,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    score_group,
)
from .models import Answer, Choice, Invitation, Question, Response, Survey
from .services.invitations import Candidate, invitations_issue

DAYS = 365
EXTRA_CONSENT = 0.27  # of those who had not said yes: about 60% of e-mail owners in all
NPS_WAVE_SHARE = 0.8  # of the members asked each month (the cooldown and consent skip many)
RESPONSE_RATE = {InvitationChannel.EMAIL: 0.42, InvitationChannel.PORTAL: 0.5}
OPEN_RATE = 0.2  # of those who do not answer, opened the link anyway

# Cumulative shares of the NPS scores 0..10 for the middle of the year: 20% detractors,
# 30% passives, 50% promoters (NPS +30); the mood trend moves people along it.
NPS_SHARES = [0.02, 0.01, 0.015, 0.02, 0.025, 0.05, 0.06, 0.12, 0.18, 0.22, 0.28]
RATING_SHARES = [0.05, 0.08, 0.17, 0.35, 0.35]
CSAT_SHARES = [0.04, 0.06, 0.12, 0.38, 0.40]
CES_SHARES = [0.05, 0.10, 0.20, 0.35, 0.30]

VISIT_REASONS = [
    ("daily", "Everyday tea shopping", "日常买茶", 40),
    ("gift", "Buying a gift", "购买礼品", 22),
    ("tasting", "A tea tasting or event", "品茶活动", 12),
    ("pickup", "Picking up an online order", "网购到店自提", 14),
    ("returns", "A return or exchange", "退换货", 5),
    ("browsing", "Just browsing", "随便逛逛", 7),
]

COMMENTS = {
    "staff": {
        "en": [
            "Nobody came to help while I waited at the counter for ten minutes.",
            "The staff seemed more interested in their phones than in customers.",
            "I asked about the difference between two oolongs and got a shrug.",
            "The cashier was impatient when I used my points.",
            "Staff were rushed and did not offer a tasting like last time.",
        ],
        "zh-hans": [
            "在柜台等了十分钟都没有店员过来。",
            "店员一直在看手机，不太理会顾客。",
            "问两款乌龙茶有什么区别，店员说不清楚。",
            "我用积分抵扣的时候收银员很不耐烦。",
            "店员太忙了，这次没有像以前那样请我试饮。",
        ],
    },
    "product": {
        "en": [
            "The Longjing I bought tasted stale, not like this year's harvest.",
            "The packaging of the gift box was dented when I opened it.",
            "Prices went up but the tea quality did not.",
            "My pu'er cake had a musty smell.",
            "The teapot lid does not fit properly.",
        ],
        "zh-hans": [
            "买的龙井喝起来不新鲜，不像是今年的新茶。",
            "礼盒打开时包装已经压坏了。",
            "价格涨了，茶叶质量却没有提高。",
            "普洱茶饼有一股霉味。",
            "茶壶的盖子盖不严。",
        ],
    },
    "stock": {
        "en": [
            "The jasmine tea I come for was out of stock again.",
            "Half the shelf was empty on a Saturday afternoon.",
            "The online shop said in stock, the store did not have it.",
        ],
        "zh-hans": [
            "我常买的茉莉花茶又缺货了。",
            "周六下午货架空了一半。",
            "网店显示有货，到店里却没有。",
        ],
    },
}
CSAT_COMMENTS = {
    "good": {
        "en": [
            "Fast checkout and the tea was lovely.",
            "Great advice on brewing temperature, thank you!",
            "Delivery arrived a day early, well packed.",
        ],
        "zh-hans": [
            "结账很快，茶也很好喝。",
            "店员教我泡茶的水温，很专业，谢谢！",
            "快递提前一天到了，包装很仔细。",
        ],
    },
    "bad": {
        "en": [
            "The queue at the till was far too long.",
            "Points did not show up on my account right away.",
            "The coupon would not apply at checkout.",
        ],
        "zh-hans": ["排队结账的时间太长了。", "积分没有马上到账。", "结账时优惠券用不了。"],
    },
}


def _phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _pick(shares: list[float], z: float, low: int) -> int:
    """The score at the quantile of ``z`` in the cumulative ``shares`` (lowest score ``low``)."""
    u, acc = _phi(z), 0.0
    for i, share in enumerate(shares):
        acc += share
        if u <= acc:
            return low + i
    return low + len(shares) - 1


def _survey(**fields) -> Survey:
    return Survey.objects.create(**fields)


def _question(survey, position, type_, en, zh, **extra) -> Question:
    return Question.objects.create(
        survey=survey, position=position, type=type_, text_en=en, text_zh_hans=zh, **extra
    )


def _surveys(published: dt.datetime) -> tuple[Survey, dict, Survey, dict]:
    common = {
        "status": SurveyStatus.LIVE,
        "invite_channels": [InvitationChannel.EMAIL, InvitationChannel.PORTAL],
        "published_at": published,
        "created_at": published - dt.timedelta(days=3),
    }
    nps = _survey(
        slug="store-nps",
        kind=SurveyKind.NPS,
        title_en="How likely are you to recommend us?",
        title_zh_hans="您会向朋友推荐我们吗？",
        intro_en="Five quick questions about your recent visits. It takes about a minute.",
        intro_zh_hans="关于您最近到店体验的五个小问题，大约需要一分钟。",
        thank_you_en="Thank you! Every answer is read by our store managers.",
        thank_you_zh_hans="谢谢！每一条回答都会由门店经理阅读。",
        valid_days=14,
        **common,
    )
    q = {
        "nps": _question(
            nps,
            1,
            QuestionType.NPS,
            "How likely are you to recommend Teahouse to a friend or colleague?",
            "您有多大可能向朋友或同事推荐茶馆？",
            measure=Measure.NPS,
        ),
        "staff": _question(
            nps,
            2,
            QuestionType.RATING,
            "How friendly and helpful were our staff?",
            "我们店员的服务是否热情、专业？",
        ),
        "product": _question(
            nps,
            3,
            QuestionType.RATING,
            "How would you rate the quality of the tea and teaware you bought?",
            "您如何评价所购茶叶和茶具的品质？",
        ),
        "found": _question(
            nps,
            4,
            QuestionType.YES_NO,
            "Did you find everything you were looking for?",
            "您找到想买的所有商品了吗？",
            required=False,
        ),
        "reason": _question(
            nps,
            5,
            QuestionType.SINGLE_CHOICE,
            "What was the main reason for your visit?",
            "您这次到店的主要原因是什么？",
            required=False,
        ),
    }
    Choice.objects.bulk_create(
        Choice(question=q["reason"], position=i, value=v, label_en=en, label_zh_hans=zh)
        for i, (v, en, zh, _w) in enumerate(VISIT_REASONS, start=1)
    )
    q["better"] = _question(
        nps,
        6,
        QuestionType.TEXT,
        "We are sorry to hear that. What could we have done better?",
        "很抱歉让您失望了。我们哪些方面可以做得更好？",
        required=False,
        show_if_question=q["nps"],
        show_if_values=[str(n) for n in range(7)],
    )
    csat = _survey(
        slug="post-purchase",
        kind=SurveyKind.CSAT,
        title_en="How was your purchase?",
        title_zh_hans="您对这次购物满意吗？",
        intro_en="Two questions about the purchase you made yesterday.",
        intro_zh_hans="关于您昨天购物的两个小问题。",
        thank_you_en="Thanks for helping us improve.",
        thank_you_zh_hans="感谢您帮助我们做得更好。",
        trigger=SurveyTrigger.AFTER_PURCHASE,
        delay_days=1,
        sample_percent=30,
        valid_days=7,
        **common,
    )
    c = {
        "csat": _question(
            csat,
            1,
            QuestionType.RATING,
            "Overall, how satisfied are you with your purchase?",
            "总体而言，您对这次购物有多满意？",
            measure=Measure.CSAT,
        ),
        "ces": _question(
            csat,
            2,
            QuestionType.RATING,
            "How easy was it to buy what you wanted? (5 = very easy)",
            "购买想要的商品有多方便？（5 = 非常方便）",
            measure=Measure.CES,
        ),
        "comment": _question(
            csat,
            3,
            QuestionType.TEXT,
            "Anything else you would like to tell us?",
            "还有什么想告诉我们的吗？",
            required=False,
        ),
    }
    return nps, q, csat, c


def _consents(ctx: demo.DemoContext, rng: random.Random) -> int:
    """More members agree to surveys later (preference centre); the demo logins also agree to
    portal invitations."""
    agreed = set(
        ConsentRecord.objects.filter(
            customer_id__in=ctx.customer_ids,
            purpose=ConsentPurpose.SURVEYS,
            channel=Channel.EMAIL,
            granted=True,
        ).values_list("customer_id", flat=True)
    )
    rows = []
    for pk, joined, email in (
        Customer.objects.filter(pk__in=ctx.customer_ids)
        .order_by("pk")
        .values_list("pk", "joined_at", "email")
    ):
        if not email or pk in agreed or rng.random() >= EXTRA_CONSENT:
            continue
        span = max((ctx.anchor - joined).days - 400, 1)
        rows.append(
            ConsentRecord(
                customer_id=pk,
                channel=Channel.EMAIL,
                purpose=ConsentPurpose.SURVEYS,
                granted=True,
                at=joined + dt.timedelta(days=rng.randint(1, span), hours=rng.randint(8, 20)),
                source="portal",
                evidence="demo data: preference centre",
            )
        )
    for pk in ctx.member_customer_ids.values():
        joined = Customer.objects.values_list("joined_at", flat=True).get(pk=pk)
        for channel in (Channel.PORTAL, Channel.EMAIL):
            rows.append(
                ConsentRecord(
                    customer_id=pk,
                    channel=channel,
                    purpose=ConsentPurpose.SURVEYS,
                    granted=True,
                    at=joined + dt.timedelta(hours=1),
                    source="portal",
                    evidence="demo data",
                )
            )
    ConsentRecord.objects.bulk_create(rows, batch_size=demo.BATCH)
    return len(rows)


class _Writer:
    """Collects responses, answers and invitation updates, written in bulk at the end."""

    def __init__(self, ctx, rng, tiers, langs):
        self.ctx, self.rng, self.tiers, self.langs = ctx, rng, tiers, langs
        self.responses: list[Response] = []
        self.answers: list[list[Answer]] = []
        self.invitations: list[Invitation] = []
        self.mood: dict[int, float] = {}

    def mood_of(self, customer_id: int) -> float:
        if customer_id not in self.mood:
            self.mood[customer_id] = self.rng.gauss(0, 1)
        return self.mood[customer_id]

    def _lang(self, customer_id: int) -> str:
        return "zh-hans" if self.langs.get(customer_id, "").startswith("zh") else "en"

    def _timing(self, invitation: Invitation) -> dt.datetime | None:
        latest = min(invitation.expires_at, self.ctx.anchor) - dt.timedelta(hours=1)
        at = invitation.sent_at + dt.timedelta(hours=self.rng.triangular(0.5, 120, 6))
        return at if at < latest else None

    def respond(self, invitation: Invitation, build, *, force: bool = False) -> None:
        rng = self.rng
        if not force and rng.random() >= RESPONSE_RATE.get(invitation.channel, 0.3):
            if rng.random() < OPEN_RATE:
                invitation.opened_at = invitation.sent_at + dt.timedelta(hours=rng.randint(1, 48))
                self.invitations.append(invitation)
            return
        at = self._timing(invitation)
        if at is None:
            return
        response, answers = build(invitation, at)
        invitation.opened_at = at - dt.timedelta(minutes=rng.randint(1, 4))
        invitation.started_at = at - dt.timedelta(minutes=rng.randint(0, 1), seconds=30)
        invitation.completed_at = at
        self.invitations.append(invitation)
        self.responses.append(response)
        self.answers.append(answers)

    def _response(self, invitation: Invitation, at: dt.datetime, **scores) -> Response:
        return Response(
            survey_id=invitation.survey_id,
            invitation=invitation,
            customer_id=invitation.customer_id,
            submitted_at=at,
            language=self._lang(invitation.customer_id),
            channel=invitation.channel,
            store_id=invitation.store_id,
            tier_id=self.tiers.get(invitation.customer_id),
            **scores,
        )

    def nps(self, q: dict, trend: float):
        rng = self.rng

        def build(invitation: Invitation, at: dt.datetime):
            staff_z, product_z = rng.gauss(0, 1), rng.gauss(0, 1)
            mood = self.mood_of(invitation.customer_id)
            z = 0.6 * staff_z + 0.35 * product_z + 0.5 * mood + rng.gauss(0, 0.45)
            z = z / 0.99 + trend  # unit spread, shifted along the year
            score = _pick(NPS_SHARES, z, 0)
            staff = _pick(RATING_SHARES, staff_z, 1)
            product = _pick(RATING_SHARES, product_z, 1)
            found = rng.random() < (0.9 if product_z > -0.5 else 0.62)
            response = self._response(
                invitation, at, nps_score=score, score_group=score_group(score)
            )
            answers = [
                Answer(question=q["nps"], number=score),
                Answer(question=q["staff"], number=staff),
                Answer(question=q["product"], number=product),
            ]
            if rng.random() < 0.9:
                answers.append(Answer(question=q["found"], number=1 if found else 0))
            if rng.random() < 0.8:
                reason = rng.choices(VISIT_REASONS, weights=[r[3] for r in VISIT_REASONS])[0]
                answers.append(Answer(question=q["reason"], choices=[reason[0]]))
            if score <= 6 and rng.random() < 0.7:
                worst = "stock" if not found else ("staff" if staff_z < product_z else "product")
                pool = COMMENTS[worst][self._lang(invitation.customer_id)]
                answers.append(Answer(question=q["better"], text=rng.choice(pool)))
            return response, answers

        return build

    def csat(self, c: dict):
        rng = self.rng

        def build(invitation: Invitation, at: dt.datetime):
            z = 0.5 * self.mood_of(invitation.customer_id) + rng.gauss(0, 0.87)
            csat = _pick(CSAT_SHARES, z, 1)
            ces = _pick(CES_SHARES, 0.6 * z + rng.gauss(0, 0.8), 1)
            response = self._response(invitation, at, csat_score=csat, ces_score=ces)
            answers = [
                Answer(question=c["csat"], number=csat),
                Answer(question=c["ces"], number=ces),
            ]
            if rng.random() < 0.22:
                pool = CSAT_COMMENTS["good" if csat >= 4 else "bad"]
                answers.append(
                    Answer(
                        question=c["comment"],
                        text=rng.choice(pool[self._lang(invitation.customer_id)]),
                    )
                )
            return response, answers

        return build

    def save(self) -> None:
        Response.objects.bulk_create(self.responses, batch_size=demo.BATCH)
        Answer.objects.bulk_create(
            (
                Answer(
                    response=response,
                    question=a.question,
                    number=a.number,
                    text=a.text,
                    choices=a.choices,
                )
                for response, answers in zip(self.responses, self.answers, strict=True)
                for a in answers
            ),
            batch_size=demo.BATCH,
        )
        Invitation.objects.bulk_update(
            self.invitations, ["opened_at", "started_at", "completed_at"], batch_size=1000
        )


def _issue(survey: Survey, candidates: list[Candidate], *, at, sample: bool) -> list[int]:
    result = invitations_issue(survey=survey, candidates=candidates, sample=sample, at=at)
    # Sent back then: nothing is mailed to demo addresses today.
    Invitation.objects.filter(pk__in=result.sent, email_status=EmailStatus.QUEUED).update(
        email_status=EmailStatus.SENT
    )
    return result.sent


def seed_surveys(ctx: demo.DemoContext) -> dict[str, int]:
    rng = ctx.rng("surveys")
    start = ctx.anchor - dt.timedelta(days=DAYS)
    counts = {"survey consents": _consents(ctx, rng)}
    nps, q, csat, c = _surveys(start - dt.timedelta(days=10))

    customers = dict(
        Customer.objects.filter(pk__in=ctx.customer_ids).values_list("pk", "preferred_language")
    )
    tiers = dict(
        LoyaltyAccount.objects.filter(customer_id__in=ctx.customer_ids).values_list(
            "customer_id", "tier_id"
        )
    )
    profile = Customer.objects.filter(pk__in=ctx.customer_ids).order_by("pk")
    stores = dict(profile.values_list("pk", "store_id"))
    joined = dict(profile.values_list("pk", "joined_at"))
    enrolled = sorted(joined)
    orders = list(
        Order.objects.filter(
            customer_id__in=ctx.customer_ids, placed_at__gte=start - dt.timedelta(days=90)
        )
        .exclude(status="refunded")
        .order_by("placed_at", "pk")
        .values_list("pk", "customer_id", "store_id", "placed_at")
    )
    writer = _Writer(ctx, rng, tiers, customers)
    members = set(ctx.member_customer_ids.values())
    quiet_from = ctx.anchor - dt.timedelta(days=45)  # the demo logins' last weeks: no surveys

    by_week: dict[int, list] = defaultdict(list)
    for row in orders:
        week = (row[3] - start).days // 7
        if 0 <= week < DAYS // 7:
            by_week[week].append(row)
    sent_ids: list[int] = []
    for week in range(DAYS // 7):
        week_start = start + dt.timedelta(days=7 * week)
        at = week_start + dt.timedelta(days=7, hours=10)
        candidates = [
            Candidate(customer_id=cust, context=f"order:{pk}", order_id=pk, store_id=store)
            for pk, cust, store, placed in by_week.get(week, [])
            if not (cust in members and placed >= quiet_from)
        ]
        if candidates:
            sent_ids += [("csat", pk) for pk in _issue(csat, candidates, at=at, sample=True)]
        if week % 4 == 2:  # the monthly relationship survey
            picked = [
                cust
                for cust in enrolled
                if joined[cust] < at
                and (at < quiet_from if cust in members else rng.random() < NPS_WAVE_SHARE)
            ]
            month = at.strftime("%Y-%m")
            wave = [
                Candidate(customer_id=cust, context=f"nps:{month}", store_id=stores.get(cust))
                for cust in picked
            ]
            sent_ids += [("nps", pk) for pk in _issue(nps, wave, at=at, sample=False)]

    invitations = Invitation.objects.in_bulk([pk for _kind, pk in sent_ids])
    for kind, pk in sent_ids:
        invitation = invitations[pk]
        force = invitation.customer_id in members
        if kind == "nps":
            trend = -0.25 + 0.5 * (invitation.sent_at - start).days / DAYS  # mood improves
            writer.respond(invitation, writer.nps(q, trend), force=force)
        else:
            writer.respond(invitation, writer.csat(c), force=force)
    writer.save()

    # One open invitation for the first demo member, in the portal inbox.
    member1 = ctx.member_customer_ids.get("member1@example.com")
    if member1 is not None:
        opened = invitations_issue(
            survey=nps,
            candidates=[
                Candidate(
                    customer_id=member1,
                    context=f"nps:{ctx.anchor:%Y-%m-%d}",
                    store_id=stores.get(member1),
                )
            ],
            channels=[InvitationChannel.PORTAL],
            at=timezone.now() - dt.timedelta(hours=3),
        )
        counts["open demo invitations"] = len(opened.sent)

    counts["surveys"] = 2
    counts["survey invitations"] = Invitation.objects.filter(
        survey__in=[nps, csat], status=InvitationStatus.SENT
    ).count()
    counts["survey responses"] = len(writer.responses)
    return counts
