"""A private Asterisk on loopback, for the demo and the tests."""

from callcenter.lab.lab import Lab, LabError, LabState

__all__ = ["Lab", "LabError", "LabState"]
