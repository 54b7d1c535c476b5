"""acb: an autonomous coding agent for real repositories, under human oversight."""

__version__ = "0.1.0"
__all__ = ["__version__"]
