class P(Protocol):
    def f(self) -> int:
        """Return the answer."""
        ...
