"""A scripted browser for the OAuth tests: a cookie jar, redirects followed, and the HTML forms
of each page read so a test can submit them as a person would click. No JavaScript: a page
that submits itself on load is submitted by calling submit()."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            # Hidden and pre-filled inputs; buttons are choices the test names itself.
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


class _StopAt(urllib.request.HTTPRedirectHandler):
    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        if self.browser.stop_at and newurl.startswith(self.browser.stop_at):
            self.browser.stopped_at = newurl
            return None  # urllib then raises HTTPError for the redirect, which open() expects
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Browser:
    """``stop_at``: a URL prefix whose redirects are recorded in ``stopped_at``, not followed."""

    def __init__(self, stop_at: str | None = None) -> None:
        self.stop_at = stop_at
        self.stopped_at: str | None = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _StopAt(self))
        self.url = ""
        self.page = ""
        self.forms: list[Form] = []
        self.links: list[str] = []

    def open(self, url: str, form: dict[str, str] | None = None) -> str:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(url, data=data, timeout=30) as response:
                self.url = response.geturl()
                self.page = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if self.stopped_at is None:
                raise
            exc.close()
            self.url, self.page = self.stopped_at, ""
        parser = _Forms()
        parser.feed(self.page)
        self.forms, self.links = parser.forms, parser.links
        return self.page

    def submit(self, **fields: str) -> str:
        """Submit the page's first form with its hidden fields plus ``fields``."""
        assert self.forms, f"no form on {self.url}: {self.page[:300]!r}"
        form = self.forms[0]
        return self.open(urllib.parse.urljoin(self.url, form.action), {**form.fields, **fields})

    def follow(self, text: str) -> str:
        """Open the first link whose address contains ``text``."""
        link = next(href for href in self.links if text in href)
        return self.open(urllib.parse.urljoin(self.url, link))
