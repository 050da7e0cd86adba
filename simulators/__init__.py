"""Simulators: pins, gates, visitors, cameras and a whole site on one machine."""
