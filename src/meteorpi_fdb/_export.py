"""Placeholder: being written."""


class ExportMixin:
    pass
