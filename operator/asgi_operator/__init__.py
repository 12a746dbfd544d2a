"""asgi-operator: a Kubernetes operator for ASGI web services, with Prometheus-gated canaries."""

__version__ = "0.1.0"
