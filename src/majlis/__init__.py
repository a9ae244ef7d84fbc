"""Majlis: one clean record per customer, for UAE and Thai businesses."""

__version__ = "0.1.0"
