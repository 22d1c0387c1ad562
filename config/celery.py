"""Celery application. The broker comes from settings (Redis, RabbitMQ or the embedded filesystem
transport used by ``make run`` when no broker is configured)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("clientele")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
