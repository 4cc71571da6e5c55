"""voltbridge: an open EV-charging backoffice."""

__version__ = "0.1.0"
