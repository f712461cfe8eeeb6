"""Key material and profile files the manifests embed, read from the fleet file's paths."""

from __future__ import annotations

from harness.errors import ConfigurationError
from harness.fleet.spec import Fleet
from harness.k8s.manifests import KeyMaterial
from harness.tokens import TokenFactory


def key_material(fleet: Fleet) -> KeyMaterial:
    """Each SE's private key (for the Job) and the public key derived from it (for the SE)."""
    public, private, profiles = {}, {}, {}
    for entry in fleet.entries:
        if entry.private_key is None:
            raise ConfigurationError(
                f"fleet file {fleet.source}: [[se]] {entry.name!r} has ready tokens but no private_key",
                expected="a private_key for every SE: the SE's JWT public key is derived from it",
                hint="k8s render deploys the SEs itself, so it needs the key pair; "
                "`openssl genpkey -algorithm RSA -out jwt-private.pem` makes one",
            )
        try:
            pem = entry.private_key.read_bytes()
            factory = TokenFactory(pem)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"fleet file {fleet.source}: [[se]] {entry.name!r}: cannot read the private key {entry.private_key} "
                f"({exc})",
                expected="a PEM RSA private key",
            ) from None
        private[entry.name] = pem.decode()
        public[entry.name] = factory.public_pem.decode()
        if entry.profile_file is not None:
            try:
                profiles[entry.name] = entry.profile_file.read_text()
            except OSError as exc:
                raise ConfigurationError(f"fleet file {fleet.source}: [[se]] {entry.name!r}: cannot read the "
                                         f"profile file {entry.profile_file} ({exc.strerror})") from None  # fmt: skip
    return KeyMaterial(public_pem=public, private_pem=private, profiles=profiles)
