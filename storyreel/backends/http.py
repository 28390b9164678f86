"""What the HTTP image backends share: the server's URL (kept without its password), the password (from the URL,
kept in this process's memory only, or from an environment variable), and HTTP failures as one-line errors."""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import BackendError, InputError, ServerDown

TIMEOUT_S = 600.0  # a batch of big pictures on a slow GPU takes minutes

_passwords: dict[str, tuple[str, str]] = {}  # public URL -> (user, password) given in a URL, this process only
_guard = threading.Lock()


def public_url(url: str, option: str = "--backend-url") -> str:
    """The URL without a user name and password (what may be stored and shown); the pair is kept in this process."""
    parts = urlsplit(url.strip())
    bad = InputError(f"{option} {public_url_text(url)!r} is not an http(s) URL: give one like http://127.0.0.1:7860")
    try:
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host += f":{port}" if port else ""
    clean = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    if parts.username:
        with _guard:
            _passwords[clean] = (unquote(parts.username), unquote(parts.password or ""))
    return clean


def public_url_text(url: str) -> str:
    """``url`` with any password replaced by ``***``, for an error message."""
    parts = urlsplit(url.strip())
    if not parts.password:
        return url.strip()
    return url.strip().replace(f":{parts.password}@", ":***@", 1)


def credentials(url: str, env: str) -> tuple[str, str] | None:
    """The user name and password for ``url``: given in its URL, else ``$env`` as ``user:password``."""
    with _guard:
        if url in _passwords:
            return _passwords[url]
    given = os.environ.get(env, "")
    if given:
        user, _, password = given.partition(":")
        return user, password
    return None


class Server:
    """A server storyreel asks over HTTP (of pictures, of words): ``call`` returns the reply's JSON (or bytes), or
    raises a one-line BackendError that names the server and says what to do. A kind of server with its own
    password scheme or its own account of a refusal overrides ``headers``, ``unauthorized`` or ``refused``."""

    slow_hint = "is it busy or stuck? Try again, or restart it"

    def __init__(self, url: str, label: str, auth_env: str, hint: str, option: str = "--backend-url",
                 timeout: float | None = None) -> None:  # fmt: skip
        self.url, self.label, self.auth_env, self.hint, self.option = url, label, auth_env, hint, option
        self.timeout = timeout
        self._client: Any = None

    @property
    def name(self) -> str:
        return f"the {self.label} server at {self.url}"

    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(base_url=self.url, headers=self.headers(),
                                        timeout=httpx.Timeout(self.timeout or TIMEOUT_S, connect=10.0))  # fmt: skip
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __del__(self) -> None:  # a backend let go (another model, the end of a test) closes its connections
        try:
            self.close()
        except Exception:
            pass

    def headers(self) -> dict[str, str]:
        """The Authorization header (HTTP basic), for every request and for a websocket."""
        import base64

        auth = credentials(self.url, self.auth_env)
        return {"Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode()} if auth else {}

    def call(self, method: str, path: str, raw: bool = False, **kw: Any) -> Any:
        import httpx

        name = self.name
        try:
            reply = self.client().request(method, path, **kw)
        except httpx.TimeoutException:
            raise ServerDown(f"{name} did not answer in time: {self.slow_hint}") from None
        except httpx.TransportError as err:
            raise ServerDown(f"cannot reach {name} ({type(err).__name__}): {self.hint}") from None
        except httpx.HTTPError as err:  # a reply that cannot be read (a broken encoding, a redirect loop)
            raise BackendError(f"{name} sent a reply that cannot be read ({type(err).__name__}): {self.hint}") from None
        if reply.status_code == 401:
            raise BackendError(self.unauthorized())
        if reply.status_code == 404:
            raise BackendError(f"{name} has no {path}: {self.hint}")
        if reply.status_code >= 400:
            return self.refused(reply)
        if raw:
            return reply.content
        try:
            return reply.json()
        except ValueError:
            raise BackendError(f"{name} sent something that is not JSON for {path}: is {self.option} the "
                               f"{self.label} server's address?") from None  # fmt: skip

    def unauthorized(self) -> str:
        return (f"{self.name} asks for a user name and password: set {self.auth_env}=user:password, or give them in "
                "the URL")  # fmt: skip

    def refused(self, reply: Any) -> Any:
        """A reply of 400 or more (but 401, 404): the server's own account of what is wrong."""
        raise BackendError(f"{self.name} failed ({reply.status_code}): {detail(reply)}")


def detail(reply: Any) -> str:
    """The server's own words for a failed request, on one line."""
    try:
        data = reply.json()
    except ValueError:
        return " ".join(reply.text.split())[:200] or reply.reason_phrase
    if isinstance(data, dict):
        for key in ("detail", "error", "errors", "message"):
            if data.get(key):
                value = data[key]
                if isinstance(value, dict) and value.get("message"):
                    value = value["message"]
                return " ".join(str(value).split())[:200]
    return " ".join(str(data).split())[:200]
