"""Mutation self-test: deliberately broken copies of the reference SE must be caught by the suite.

See docs/mutation.md. Variants live in ``mutants/mutants.toml``; ``python -m tests.mutation.runner`` runs them.
"""
