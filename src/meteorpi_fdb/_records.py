"""Placeholder: being written."""


class RecordsMixin:
    pass
