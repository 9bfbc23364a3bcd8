"""Redline's alerts."""
