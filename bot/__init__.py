"""corrbot: watches how tightly crypto moves with US small-cap technology stocks."""

__all__ = ["__version__"]

__version__ = "0.1.0"
