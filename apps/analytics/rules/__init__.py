"""Segment rules: a small condition tree stored as JSON, checked without touching the database
(``validate``), then compiled to one ``Q`` over customers (``compile``)."""
