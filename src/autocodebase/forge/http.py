"""REST calls to a forge: auth header, timeouts, retries on 5xx/429, one-line errors.

httpx is already a dependency (the MCP client's transport), so it is used here rather than a
second HTTP stack. Retries honour `Retry-After` (seconds) and are bounded; the clock is
injected (`sleep`) so that tests of the retry path take no time. Every failure becomes a
`ForgeError`, whose message names the call and the forge's own reason, never the token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from autocodebase.errors import AcbError

RETRIED = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
MAX_PAGES = 10
"""Pages a list is followed for, at most: a forge answering next links forever ends here."""
MAX_WAIT_S = 30.0
"""A Retry-After longer than this is not waited for: the call fails and says so."""
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
ADVICE = {
    401: "the token was refused (expired or wrong?)",
    403: "the token lacks permission for this (scopes: repo / api)",
    404: "not found, or not visible to this token",
}


class ForgeError(AcbError):
    """A forge call failed; the message is one line: which call, and the forge's reason."""


@dataclass
class ForgeHttp:
    """One forge's API root and credentials; `request` and `pages` are all callers use."""

    base_url: str
    headers: Mapping[str, str]
    timeout_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    """The test seam (httpx's own); None: the network."""
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url.rstrip("/"),
                headers=dict(self.headers),
                timeout=self.timeout_s,
                transport=self.transport,
                follow_redirects=False,  # a redirect elsewhere must not carry the token
                trust_env=True,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ForgeHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        """The decoded JSON answer to `METHOD path` (absolute URLs are taken as they are)."""
        return self._send(method, path, json, params).json()

    def pages(
        self,
        path: str,
        per_page: int = 100,
        params: Mapping[str, Any] | None = None,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[Any]:
        """Every item of a paginated list, following the `Link: rel="next"` header both
        GitHub and GitLab send, for at most `max_pages` pages. A next link to another origin
        than the API's is refused: following it would hand the token to that host."""
        url = path
        query: dict[str, Any] = {**(params or {}), "per_page": per_page}
        for _page in range(max_pages):
            response = self._send("GET", url, None, query)
            items = response.json()
            if not isinstance(items, list):
                raise ForgeError(f"GET {path}: expected a list, got {type(items).__name__}")
            yield from items
            found = NEXT_LINK.search(response.headers.get("link", ""))
            if not found:
                return
            url, query = self._same_origin(found.group(1), path), {}

    def _same_origin(self, link: str, path: str) -> str:
        here, there = httpx.URL(self.base_url), httpx.URL(link)
        if there.is_relative_url:
            return link
        if (there.scheme, there.host, there.port) != (here.scheme, here.host, here.port):
            raise ForgeError(f"GET {path}: the next page is on another host ({there.host})")
        return link

    def _send(self, method: str, path: str, body: Any, params: Mapping[str, Any]) -> httpx.Response:
        what = f"{method} {path.split('?')[0]}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.client().request(method, path, json=body, params=params or None)
            except httpx.HTTPError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise ForgeError(f"{what}: {type(exc).__name__}: {exc}") from None
                self.sleep(min(2.0**attempt, MAX_WAIT_S))
                continue
            if response.status_code < 400:
                return response
            wait = _retry_wait(response, attempt)
            if response.status_code in RETRIED and attempt < MAX_ATTEMPTS and wait is not None:
                self.sleep(wait)
                continue
            raise ForgeError(_failure(what, response))
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_wait(response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before trying again; None when the forge asks for too long a wait."""
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        wait = float(header)
        return wait if wait <= MAX_WAIT_S else None
    return min(2.0 ** (attempt - 1), MAX_WAIT_S)


def _failure(what: str, response: httpx.Response) -> str:
    """`what`: HTTP status, the forge's message, and what it usually means."""
    reason = ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or ""
        errors = data.get("errors")
        if errors:
            message = f"{message} {errors}".strip()
        reason = str(message)
    if not reason:
        reason = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    advice = ADVICE.get(response.status_code, "")
    parts = [p for p in (reason, advice) if p]
    detail = f": {'; '.join(parts)}" if parts else ""
    return f"{what}: HTTP {response.status_code}{detail}".replace("\n", " ")
