"""Kubernetes manifests for a fleet (``se-conformance k8s render``): ``manifests`` builds them (pure),
``keys`` derives the JWT public keys, ``write`` writes plain YAML. See docs/scaling.md."""
