"""The black-box conformance suite of the ArtStore storage element (catalogue: requirements.toml)."""
