"""Redline's collectors."""
