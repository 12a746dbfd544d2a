"""Pure rendering: AsgiService spec (and rollout position) in, Kubernetes manifests (plain dicts) out."""
