"""Redline's dashboard."""
