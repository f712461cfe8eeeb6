"""The local storage backend: paths, atomic file operations, sidecars, streaming receive."""
