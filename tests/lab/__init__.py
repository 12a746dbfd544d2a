"""The lab: a real Kubernetes control plane (and Prometheus) on loopback, for tests and the demo."""
