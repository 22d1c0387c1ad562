"""The Django admin for customers and orders, driven through the admin client: audited exports
behind the export permission, add/change through the audited services, no deletion (erasure is
the way), and the import-export import of files without a member_number column."""

import csv
import datetime as dt
import io

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from apps.accounts import roles
from apps.core.models import AuditEvent
from apps.customers.identifiers import member_number_is_valid
from apps.customers.models import ConsentRecord, Customer, Order
from apps.customers.services import consent_record, customer_merge, interaction_log
from tests.conftest import make_staff
from tests.customers.factories import CustomerFactory, OrderFactory, StoreFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def group_administrator(db):
    """An Administrator by role, not a superuser: the admin checks each model permission."""
    return make_staff(roles.ADMINISTRATOR, email="ada@test.local", full_name="Ada Admin")


def format_index(model, title: str) -> int:
    formats = admin.site._registry[model].get_export_formats()
    return next(i for i, f in enumerate(formats) if f().get_title() == title)


def import_format_index(model, title: str) -> int:
    formats = admin.site._registry[model].get_import_formats()
    return next(i for i, f in enumerate(formats) if f().get_title() == title)


# --- export ------------------------------------------------------------------------------------


def _export(client, model, title: str):
    """The admin export as a browser does it: open the form, post it back with every column."""
    url = reverse(f"admin:customers_{model._meta.model_name}_export")
    form = client.get(url).context["form"]
    columns = {name: "on" for name, field in form.fields.items() if field.initial is True}
    return client.post(url, {"format": format_index(model, title), "resource": 0, **columns})


def test_administrator_opens_the_customer_export_form(client, group_administrator):
    client.force_login(group_administrator)

    response = client.get(reverse("admin:customers_customer_export"))

    assert response.status_code == 200
    assert AuditEvent.objects.filter(action__startswith="export.").count() == 0  # a form only


def test_administrator_exports_customers_as_csv_and_it_is_audited(client, group_administrator):
    CustomerFactory(member_number="1234567897", first_name="Wei", last_name="Zhang")
    client.force_login(group_administrator)

    response = _export(client, Customer, "csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].split(",")[:3] == ["member_number", "first_name", "last_name"]
    assert lines[1].split(",")[:3] == ["1234567897", "Wei", "Zhang"]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.after) == (
        "export.customers",
        group_administrator,
        {"source": "admin", "rows": 1, "format": "csv"},
    )


def test_administrator_exports_orders_as_xlsx_and_it_is_audited(client, group_administrator):
    OrderFactory(external_id="TEA-1", store=StoreFactory(code="sh-01"))
    OrderFactory(external_id="TEA-2", store=StoreFactory(code="sh-01"))
    client.force_login(group_administrator)

    response = _export(client, Order, "xlsx")

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("member_number", "external_id", "store")
    assert sorted(r[1] for r in rows[1:]) == ["TEA-1", "TEA-2"]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.after["rows"], event.after["format"]) == (
        "export.orders",
        group_administrator,
        2,
        "xlsx",
    )


def test_admin_xlsx_export_survives_a_stored_control_character(client, group_administrator):
    legacy = CustomerFactory(member_number="1234567897", first_name="Ann", last_name="Lee")
    Customer.objects.filter(pk=legacy.pk).update(first_name="Ann\u0007", last_name="=\x1bLee")
    client.force_login(group_administrator)

    response = _export(client, Customer, "xlsx")

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:3] == ("1234567897", "Ann", "=Lee")
    assert sheet["C2"].data_type == "s" and sheet["C2"].quotePrefix
    assert AuditEvent.objects.get().after == {"source": "admin", "rows": 1, "format": "xlsx"}


def test_admin_xlsx_export_shows_phones_and_formula_text_without_an_apostrophe(
    client, group_administrator
):
    """Issue 9, part 4: formula-like text stays inert in the admin's XLSX as quote-prefixed
    text cells, not behind a visible apostrophe; dates are dates; the sheet reads like the
    dashboard's exports (bold frozen header, autofilter)."""
    CustomerFactory(
        member_number="1234567897",
        first_name="@home",
        last_name="-Lee",
        phone="+8613290809573",
        birth_date=dt.date(1990, 5, 6),
    )
    client.force_login(group_administrator)

    response = _export(client, Customer, "xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    for name, value in (
        ("phone", "+8613290809573"),
        ("first_name", "@home"),
        ("last_name", "-Lee"),
    ):
        assert row[name].value == value
        assert row[name].data_type == "s" and row[name].quotePrefix
    assert not row["member_number"].quotePrefix
    assert row["birth_date"].is_date and row["birth_date"].value == dt.datetime(1990, 5, 6)
    assert isinstance(row["joined_at"].value, dt.datetime)
    assert sheet.title == "Customers" and sheet.freeze_panes == "A2"
    assert all(c.font.b for c in sheet[1]) and sheet.auto_filter.ref.startswith("A1:")


def test_admin_csv_export_keeps_the_apostrophe(client, group_administrator):
    CustomerFactory(member_number="1234567897", first_name="=SUM(A1)", phone="+8613290809573")
    client.force_login(group_administrator)

    response = _export(client, Customer, "csv")

    header, row = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert row[header.index("first_name")] == "'=SUM(A1)"
    assert row[header.index("phone")] == "'+8613290809573"


def test_admin_offers_only_export_formats_that_keep_text_inert():
    formats = admin.site._registry[Customer].get_export_formats()
    assert [f().get_title() for f in formats] == ["csv", "xlsx", "tsv", "json"]


@pytest.mark.parametrize("url", ["admin:customers_customer_export", "admin:customers_order_export"])
def test_staff_without_the_export_permission_cannot_export(client, agent, url):
    CustomerFactory()
    client.force_login(agent)

    assert client.get(reverse(url)).status_code == 403
    assert client.post(reverse(url), {"format": 0, "resource": 0}).status_code == 403
    assert AuditEvent.objects.count() == 0


# --- add and change ----------------------------------------------------------------------------


def _inline_management(response) -> dict[str, str]:
    """The management-form fields of the page's inlines, as a browser would post them back."""
    data: dict[str, str] = {}
    for inline in response.context["inline_admin_formsets"]:
        form = inline.formset.management_form
        for name, field in form.fields.items():
            data[f"{form.prefix}-{name}"] = str(form[name].value() or field.initial or 0)
    return data


def test_administrator_adds_a_customer_through_the_services(client, group_administrator):
    store = StoreFactory(code="sh-01")
    vip = TagFactory(name="vip")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_add")
    page = client.get(url)

    response = client.post(
        url,
        {
            "first_name": "Wei",
            "last_name": "Zhang",
            "email": "Wei@Example.com",
            "phone": "138 0013 8000",
            "gender": "",
            "city": "Shanghai",
            "region": "",
            "preferred_language": "zh-hans",
            "preferred_channel": "email",
            "store": store.pk,
            "tags": [vip.pk],
            **_inline_management(page),
        },
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    wei = Customer.objects.get()
    assert member_number_is_valid(wei.member_number)
    assert (wei.email, wei.phone, wei.source) == ("wei@example.com", "+8613800138000", "staff")
    assert list(wei.tags.values_list("name", flat=True)) == ["vip"]
    events = AuditEvent.objects.filter(target_id=str(wei.pk)).order_by("pk")
    assert [(e.action, e.actor, e.summary) for e in events] == [
        ("customer.create", group_administrator, wei.member_number),
        ("customer.tag_add", group_administrator, "vip"),
    ]


def test_administrator_changes_a_customer_and_its_tags_with_audit_events(
    client, group_administrator
):
    customer = CustomerFactory(
        first_name="Wei", last_name="Zhang", email="wei@example.com", phone="+8613800138000"
    )
    customer.tags.add(TagFactory(name="vip"), TagFactory(name="tea"))
    consent_record(
        customer=customer, channel="sms", purpose="marketing", granted=True, source="staff"
    )
    interaction_log(customer=customer, kind="note", summary="Called about tea", actor=None)
    before = AuditEvent.objects.count()
    coffee = TagFactory(name="coffee")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "tags"}

    response = client.post(
        url,
        {
            **data,
            "city": "Hangzhou",
            "tags": [TagFactory(name="tea").pk, coffee.pk],
            **_inline_management(page),
        },
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    customer.refresh_from_db()
    assert customer.city == "Hangzhou"
    assert sorted(customer.tags.values_list("name", flat=True)) == ["coffee", "tea"]
    events = AuditEvent.objects.order_by("pk")[before:]
    assert [(e.action, e.summary) for e in events] == [
        ("customer.update", "city"),
        ("customer.tag_add", "coffee"),
        ("customer.tag_remove", "vip"),
    ]
    assert {e.actor for e in events} == {group_administrator}
    # The read-only inlines are left as they were.
    assert list(customer.consents.values_list("channel", "granted")) == [("sms", True)]
    assert list(customer.interactions.values_list("summary", flat=True)) == ["Called about tea"]


def test_an_invalid_phone_in_the_admin_is_a_form_error(client, group_administrator):
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_add")
    page = client.get(url)

    response = client.post(
        url,
        {
            "first_name": "Wei",
            "phone": "12345",
            "preferred_language": "zh-hans",
            "preferred_channel": "email",
            **_inline_management(page),
        },
    )

    assert response.status_code == 200
    assert "“12345” is not a valid phone number." in response.content.decode()
    assert Customer.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_a_birth_date_in_the_future_in_the_admin_is_a_form_error(client, group_administrator):
    customer = CustomerFactory(first_name="Wei")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "tags"}

    response = client.post(url, {**data, "birth_date": "2999-01-01", **_inline_management(page)})

    assert response.status_code == 200
    assert "The birth date is in the future." in response.content.decode()
    customer.refresh_from_db()
    assert customer.birth_date is None and AuditEvent.objects.count() == 0


# --- no deletion -------------------------------------------------------------------------------


@pytest.fixture(params=["group_administrator", "administrator"])
def staff(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize(
    ("model", "factory"),
    [(Customer, CustomerFactory), (Order, OrderFactory)],
    ids=["customer", "order"],
)
def test_customers_and_orders_cannot_be_deleted_in_the_admin(client, staff, model, factory):
    """Erasure is the way out for a customer; orders carry ledger links. Neither the delete page
    nor the changelist's bulk action deletes anything, and nothing is audited as deleted."""
    obj = factory()
    name = model._meta.model_name
    client.force_login(staff)
    url = reverse(f"admin:customers_{name}_delete", args=[obj.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse(f"admin:customers_{name}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        follow=True,
    )
    # No confirmation page: the action is unknown, so the changelist comes back as it was.
    assert bulk.status_code == 200 and bulk.redirect_chain == []
    assert bulk.templates[0].name == "admin/import_export/change_list_import_export.html"
    assert "Are you sure" not in bulk.content.decode()

    assert model.objects.filter(pk=obj.pk).exists()
    assert not AuditEvent.objects.filter(action__endswith=".delete").exists()
    changelist = client.get(reverse(f"admin:customers_{name}_changelist"))
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()


# --- import ------------------------------------------------------------------------------------


def _admin_import(client, model, name: str, content: bytes):
    """Step 1 of the admin import: upload, dry run, confirm page."""
    info = model._meta.app_label, model._meta.model_name
    return client.post(
        reverse("admin:{}_{}_import".format(*info)),
        {
            "resource": 0,
            "format": import_format_index(model, "csv"),
            "import_file": SimpleUploadedFile(name, content, content_type="text/csv"),
        },
    )


def test_admin_import_of_customers_without_a_member_number_column(client, group_administrator):
    StoreFactory(code="sh-01")
    client.force_login(group_administrator)
    content = (
        b"First_Name,last_name,email,phone,store,consent_email_marketing\n"
        b"Wei,Zhang,wei@example.com,13800138000,sh-01,yes\n"
        b"Li,Na,li.na@example.com,,,\n"
    )

    preview = _admin_import(client, Customer, "people.csv", content)

    assert preview.status_code == 200
    assert "Traceback" not in preview.content.decode()
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert Customer.objects.count() == 0  # the dry run wrote nothing
    confirm = preview.context["confirm_form"]

    done = client.post(
        reverse("admin:customers_customer_process_import"),
        {name: confirm[name].value() for name in confirm.fields},
    )

    assert done.status_code == 302
    people = Customer.objects.order_by("email")
    assert [(c.email, c.phone, c.source) for c in people] == [
        ("li.na@example.com", "", "import"),
        ("wei@example.com", "+8613800138000", "import"),
    ]
    assert all(member_number_is_valid(c.member_number) for c in people)
    assert list(ConsentRecord.objects.values_list("customer__email", "channel", "granted")) == [
        ("wei@example.com", "email", True)
    ]
    assert (
        AuditEvent.objects.filter(action="import.customers", actor=group_administrator).count() == 1
    )


def test_admin_import_of_orders_without_a_store_column_gives_row_errors(
    client, group_administrator
):
    CustomerFactory(member_number="1234567897")
    client.force_login(group_administrator)
    content = b"member_number,external_id,placed_at,total\n1234567897,TEA-1,2024-05-01 10:00,88\n"

    response = _admin_import(client, Order, "orders.csv", content)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Traceback" not in page
    result = response.context["result"]
    assert not result.has_errors() and result.has_validation_errors()
    assert [list(row.error_dict) for row in result.invalid_rows] == [["store"]]
    assert Order.objects.count() == 0


def test_the_admin_may_not_take_away_the_last_contact(client, group_administrator):
    customer = CustomerFactory(email="", phone="+8613800138000")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "tags"}
    before = AuditEvent.objects.count()

    response = client.post(url, {**data, "phone": "", **_inline_management(page)})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A member needs an e-mail address or a phone number."
    ]
    customer.refresh_from_db()
    assert customer.phone == "+8613800138000" and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("customers.txt", 10, "Only .csv and .xlsx files can be imported."),
        ("customers.csv", 3 * 1024 * 1024, "The file is larger than 2 MB."),
    ],
)
def test_the_admin_import_applies_the_one_upload_check(
    client, group_administrator, settings, name, size, message
):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    client.force_login(group_administrator)
    before = (Customer.objects.count(), AuditEvent.objects.count())
    upload = SimpleUploadedFile(name, b"x" * size, content_type="text/csv")
    response = client.post(
        reverse("admin:customers_customer_import"), {"import_file": upload, "format": "0"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"] == [message]
    assert (Customer.objects.count(), AuditEvent.objects.count()) == before


# --- merged customers ---------------------------------------------------------------------------


def test_a_merged_away_customer_shows_its_survivor_and_is_read_only(client, group_administrator):
    source, target = CustomerFactory(city="Hangzhou"), CustomerFactory()
    customer_merge(source=source, target=target, actor=group_administrator, reason="dup")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_change", args=[source.pk])

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert target.member_number in html  # the survivor, shown
    assert 'name="merged_into"' not in html and 'name="city"' not in html  # nothing to edit
    response = client.post(url, {"city": "Suzhou", "email": source.email, "phone": source.phone})
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.city == "Hangzhou"

    listed = client.get(reverse("admin:customers_customer_changelist"), {"merged": "yes"})
    assert source.member_number in listed.content.decode()
    assert target.member_number in listed.content.decode()  # in the survivor column


def test_the_survivor_cannot_be_pointed_elsewhere_in_the_admin(client, group_administrator):
    other = CustomerFactory()
    customer = CustomerFactory(city="Hangzhou")
    client.force_login(group_administrator)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    assert 'name="merged_into"' not in client.get(url).content.decode()
    client.post(url, {"merged_into": other.pk, "email": customer.email, "phone": customer.phone})
    customer.refresh_from_db()
    assert customer.merged_into is None
