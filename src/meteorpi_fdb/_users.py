"""Placeholder: being written."""


class UsersMixin:
    pass
