"""Placeholder: being written."""


class StatusMixin:
    pass
