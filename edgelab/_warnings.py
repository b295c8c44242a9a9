"""Warnings edgelab emits (the test suite turns them into errors)."""


class EdgelabWarning(UserWarning):
    """A measurement or result that the user should look at twice (busy machine, wide spread, ...)."""
