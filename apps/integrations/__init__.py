"""Outbound webhooks: Administrators subscribe HTTPS endpoints of the other systems a business
runs (shop, ERP, data warehouse) to domain events; deliveries come from the events outbox,
signed, retried with back-off, logged per endpoint. See docs/integrations.md."""
