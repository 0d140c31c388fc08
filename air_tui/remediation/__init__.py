"""Executing approved actions through a tenant and recording a result per target."""
