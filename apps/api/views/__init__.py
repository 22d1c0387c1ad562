"""REST API v1 views: one module per resource. Each view validates with an ``Input``
serializer, calls a selector or service, and renders with an output serializer."""
