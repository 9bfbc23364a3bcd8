"""Redline's agent."""
