"""Redline's slo."""
