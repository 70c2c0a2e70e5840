"""A client for a CRO's events API (wire format: docs/cro-events-api.md).

Transport only: paginates, retries and authenticates. The events it returns are written
to an ordinary delivery file by `orchestration.api.pull`, so the feed contract, the gates
and de-duplication apply to them exactly as to files.

The bearer token never leaves the Authorization header: it is not in any message, log
record, exception or repr, and text the API sends back is scrubbed of it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EXCERPT_CHARS = 200


class ApiError(Exception):
    """A failure of a CRO events API; the message says what to do next."""


class ApiAuthError(ApiError):
    """The API rejected the token (401/403), or no token is configured."""


class ApiProtocolError(ApiError):
    """The API answered something the wire format does not allow (bad JSON, wrong shape,
    unexpected status)."""


class ApiUnavailableError(ApiError):
    """The API kept failing (timeouts, 429, 5xx) after every retry."""


def token_env_var(cro_id: str) -> str:
    """The environment variable holding a CRO's API token, e.g. `CG_CRO_ACME_API_TOKEN`."""
    return f"CG_CRO_{cro_id.upper()}_API_TOKEN"


def token_from_env(cro_id: str) -> str:
    name = token_env_var(cro_id)
    token = os.environ.get(name, "").strip()
    if not token:
        raise ApiAuthError(
            f"no API token for CRO {cro_id!r}: set the environment variable {name} "
            "to the bearer token the CRO issued for this pipeline"
        )
    return token


class _BearerAuth(requests.auth.AuthBase):
    """Adds the token per request, so it is not kept in the session's visible headers.
    Requests drops it when a redirect leaves the host."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<bearer token, hidden>"


class CroEventsClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        token_env_var: str | None = None,
        page_size: int = 500,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """`timeout` is (connect, read) in seconds. `token_env_var` names where the token
        came from, so that an auth failure can say which variable to fix."""
        if not token:
            raise ApiAuthError("the API token is empty: " + _where_to_set_token(token_env_var))
        self.events_url = _events_url(base_url)
        self.page_size = page_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._token = token
        self._token_env_var = token_env_var
        self._sleep = sleep
        self._session = requests.Session()
        self._session.auth = _BearerAuth(token)
        self._session.headers["Accept"] = "application/json"

    @classmethod
    def for_cro(cls, cro_id: str, base_url: str, **options) -> "CroEventsClient":
        """A client whose token comes from the CRO's environment variable (`token_env_var`)."""
        return cls(base_url, token_from_env(cro_id), token_env_var=token_env_var(cro_id), **options)

    def __repr__(self) -> str:
        return f"CroEventsClient({self.events_url!r})"

    def __enter__(self) -> "CroEventsClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def iter_pages(self, since: str | None = None) -> Iterator[list]:
        """The events recorded at or after `since` (ISO 8601 with offset; None: all), one
        list per page, in (recorded_at, event_id) order."""
        params: dict[str, str | int] = {"page_size": self.page_size}
        if since is not None:
            params["since"] = since
        tokens_seen: set[str] = set()
        page_number = 1
        while True:
            events, next_token = self._fetch_page(params, page_number)
            log.debug("%s page %d: %d events", self.events_url, page_number, len(events))
            yield events
            if next_token is None:
                return
            if next_token in tokens_seen:
                raise ApiProtocolError(
                    f"{self.events_url} returned page token {next_token!r} twice (page {page_number}): "
                    "pagination would never end; the CRO must fix its `next` tokens"
                )
            tokens_seen.add(next_token)
            params["page_token"] = next_token
            page_number += 1

    def _fetch_page(self, params: dict, page_number: int) -> tuple[list, str | None]:
        response = self._get_with_retries(params, page_number)
        return self._parse_page(response.content, page_number)

    def _get_with_retries(self, params: dict, page_number: int) -> requests.Response:
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                response = self._session.get(self.events_url, params=params, timeout=self.timeout)
            except TRANSIENT_ERRORS as error:
                problem, wait = self._describe(error), self._backoff(attempt)
            else:
                if response.status_code not in RETRYABLE_STATUSES:
                    return self._require_ok(response, page_number)
                problem = f"HTTP {response.status_code}"
                wait = self._wait_asked_by(response, attempt)
            if attempt + 1 < attempts:
                log.warning(
                    "%s page %d: %s; retrying in %.2f s (retry %d of %d)",
                    self.events_url, page_number, problem, wait, attempt + 1, self.max_retries,
                )
                self._sleep(wait)
        raise ApiUnavailableError(
            f"{self.events_url} failed {attempts} times on page {page_number} (last: {problem}); "
            "the API is down or overloaded: run the pull again later (it resumes from its cursor), "
            "or raise the client's timeout/max_retries if the API is merely slow"
        )

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_base * 2**attempt, self.backoff_max)

    def _wait_asked_by(self, response: requests.Response, attempt: int) -> float:
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        if asked is None:
            return self._backoff(attempt)
        if asked > self.backoff_max:
            # Waiting longer would stall the run; the next scheduled pull resumes from the cursor.
            raise ApiUnavailableError(
                f"{self.events_url} answered HTTP {response.status_code} and asked to retry after "
                f"{asked:.0f} s, longer than backoff_max={self.backoff_max:.0f} s: run the pull again after that"
            )
        return asked

    def _describe(self, error: Exception) -> str:
        if isinstance(error, requests.ConnectTimeout):
            return f"no connection within {self.timeout[0]} s"
        if isinstance(error, requests.ReadTimeout):
            return f"no answer within {self.timeout[1]} s"
        return f"connection failed ({type(error).__name__})"

    def _require_ok(self, response: requests.Response, page_number: int) -> requests.Response:
        status = response.status_code
        if status == 200:
            return response
        if status in (401, 403):
            raise ApiAuthError(
                f"{self.events_url} rejected the bearer token (HTTP {status}): "
                + _where_to_set_token(self._token_env_var)
            )
        raise ApiProtocolError(
            f"{self.events_url} answered HTTP {status} on page {page_number}: {self._excerpt(response.text)!r}; "
            "check the base URL and that the API follows docs/cro-events-api.md"
        )

    def _parse_page(self, raw: bytes, page_number: int) -> tuple[list, str | None]:
        where = f"page {page_number} from {self.events_url}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiProtocolError(f"{where} is not UTF-8 (byte offset {error.start} of {len(raw)})") from None
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            offset = len(text[: error.pos].encode("utf-8"))
            raise ApiProtocolError(
                f"{where} is not valid JSON: {error.msg} at byte offset {offset} of {len(raw)} "
                "(a cut-off response?); nothing from this pull was delivered, run it again, "
                "and report it to the CRO if it persists"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ApiProtocolError(
                f"{where} is JSON but not an object with an `events` list: {self._excerpt(text)!r}"
            )
        if "next" not in body or not (body["next"] is None or (isinstance(body["next"], str) and body["next"])):
            raise ApiProtocolError(f"{where} lacks `next` (a page token, or null on the last page)")
        return body["events"], body["next"]

    def _excerpt(self, text: str) -> str:
        return text[:EXCERPT_CHARS].replace(self._token, "<token>")


def parse_instant(text: object) -> datetime | None:
    """An ISO 8601 timestamp with a UTC offset as a UTC instant; None when it is not one
    (a timestamp without an offset is ambiguous)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else None


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (delay in seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _events_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the API base URL {base_url!r} is not an http(s) URL such as https://api.example-cro.com/v1")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(
            f"refusing to send a bearer token over plain HTTP to {parts.hostname}: use an https:// base URL"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"the API base URL {base_url!r} must not carry a query or fragment")
    return base_url.rstrip("/") + "/events"


def _where_to_set_token(env_var: str | None) -> str:
    if env_var:
        return f"set a valid token in the environment variable {env_var} (ask the CRO for a new one if it expired)"
    return "check the token given to the client (ask the CRO for a new one if it expired)"
