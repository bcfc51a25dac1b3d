"""Helpers for testing code that uses MeteorPi (see :mod:`meteorpi_fdb.testing.dummy_data`)."""
