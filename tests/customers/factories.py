import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from apps.customers.identifiers import member_number_generate
from apps.customers.models import Customer, Interaction, Order, OrderLine, Store, Tag
from apps.customers.services import customer_search_text


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"store-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")
    city = "Shanghai"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    member_number = factory.LazyFunction(member_number_generate)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(
        lambda o: f"{o.first_name}.{o.last_name}.{o.member_number}@example.org".lower()
    )
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")
    joined_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=400))
    search_text = factory.LazyAttribute(
        lambda o: customer_search_text(
            first_name=o.first_name,
            last_name=o.last_name,
            email=o.email,
            phone=o.phone,
            member_number=o.member_number,
        )
    )


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"ORD-{n:06d}")
    placed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    total = Decimal("100.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = "Green tea"
    category = "tea"
    quantity = Decimal(1)
    unit_price = Decimal("100.00")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    kind = "call"
    summary = "Asked about delivery"
