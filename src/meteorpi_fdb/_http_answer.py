"""One POST whose answer must be a JSON object: what both export protocols' clients share.

:func:`post_for_object` returns the object or raises :class:`AnswerError`, which says whether
the transport failed, which HTTP status came back, or that the answer was malformed; each
protocol's client turns that into its own outcome.
"""

from __future__ import annotations

from typing import Any

import requests


class AnswerError(Exception):
    """No JSON object came back: ``status`` (an HTTP status other than 200), ``transport``
    (the connection failed; the requests error is the ``__cause__``) or ``malformed`` (JSON,
    but not an object); none of them for a timeout or an answer that is not JSON."""

    def __init__(self, message: str, status: int | None = None, transport: bool = False,
                 malformed: bool = False) -> None:
        super().__init__(message)
        self.status, self.transport, self.malformed = status, transport, malformed


def post_for_object(session: requests.Session, url: str, auth: tuple[str, str], timeout: Any, verify: Any,
                    **kwargs: Any) -> dict[str, Any]:
    """POST ``kwargs`` (``json=``, ``data=``, ``headers=``) to ``url``; the JSON object answered."""
    try:
        response = session.post(url, auth=auth, timeout=timeout, verify=verify, **kwargs)
    except requests.Timeout:
        raise AnswerError(f"no answer from {url} within {timeout} s") from None
    except requests.RequestException as error:
        raise AnswerError(f"cannot reach {url}: {error}", transport=True) from error
    with response:
        if response.status_code != 200:
            raise AnswerError(f"HTTP {response.status_code} from {url}: {error_text(response)}",
                              status=response.status_code)
        try:
            answer = response.json()
        except ValueError:
            raise AnswerError(f"the answer from {url} is not JSON") from None
    if not isinstance(answer, dict):
        raise AnswerError(f"the answer from {url} is not a JSON object", malformed=True)
    return answer


def error_text(response: requests.Response) -> str:
    """The ``message`` of an error answer, else the HTTP reason."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else (response.reason or "no reason given")
