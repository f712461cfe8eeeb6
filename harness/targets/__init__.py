"""Target kinds: where the SE under test comes from (docker, local process, deployed URL)."""
