"""What the scoring service checks before it does any work: API keys and their scopes, the
size and type of a request body, and that a prediction id given with feedback was issued by
this service for that model.

Prediction ids keep the contract shape ``<request_id>/<i>``; the request id is
``<uuid>.<batch size>.<mac>``, where the MAC is an HMAC-SHA256 (truncated to 128 bits) of the
model name, the uuid and the batch size, keyed by a secret kept in the workspace
(``serving.key``, mode 0600). So ids cannot be forged, survive restarts, hold across worker
processes, and the service keeps no table of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
import uuid
from pathlib import Path

from starlette.requests import Request

from engine.api_keys import Grant, active_grants, hash_key
from engine.serving.scoring import RequestError
from engine.store import Store

SECRET_FILE = "serving.key"
_REQUEST_ID = re.compile(r"([0-9a-f]{32})\.([0-9]{1,4})\.([0-9a-f]{32})")
_JSON_TYPE = re.compile(r"application/([a-z0-9.+-]*\+)?json", re.IGNORECASE)


def workspace_secret(root: Path) -> bytes:
    """The workspace's serving secret, created (0600) on first use; every worker reads the same."""
    path = root / SECRET_FILE
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{SECRET_FILE}.{uuid.uuid4().hex[:10]}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(32).hex().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text("ascii").strip())


class PredictionIds:
    def __init__(self, secret: bytes):
        self._secret = secret

    def _mac(self, model: str, token: str, size: int) -> str:
        msg = f"{model}\n{token}\n{size}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def token() -> str:
        """32 hex digits: the time in milliseconds (12), then random ones — so monitoring
        finds the logged prediction a feedback id names in the log of its day."""
        return f"{time.time_ns() // 1_000_000:012x}{uuid.uuid4().hex[:20]}"

    def request_id(self, model: str, token: str, size: int) -> str:
        return f"{token}.{size}.{self._mac(model, token, size)}"

    def check(self, model: str, prediction_id: str) -> None:
        """Raise 422 for a malformed id, 404 for one this service did not issue for ``model``."""
        request_id, _, index = prediction_id.rpartition("/")
        m = _REQUEST_ID.fullmatch(request_id)
        if m is None or not index.isdigit() or len(index) > 4:
            raise RequestError(
                422,
                '"id" is not a prediction id of this service: send the "id" of a prediction '
                'as the predict response gave it ("<request_id>/<index>").',
            )
        token, size, mac = m.group(1), int(m.group(2)), m.group(3)
        if not hmac.compare_digest(mac, self._mac(model, token, size)) or int(index) >= size:
            raise RequestError(
                404,
                f'No prediction with id "{prediction_id[:120]}" was made by model "{model}": '
                "feedback is accepted only for predictions this service issued for that model.",
            )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes —
    from Content-Length, or while a chunked body streams in (never read whole first)."""
    length = request.headers.get("content-length")
    too_big = (
        f"The request body is over the limit of {limit / 2**20:g} MiB. Send fewer instances per "
        "request (the service operator sets the limit with `seer serve --max-body-mb`)."
    )
    if length is not None:
        if not length.isdigit():
            raise RequestError(400, "The Content-Length header is not a number.")
        if int(length) > limit:
            raise RequestError(413, too_big)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def require_json(request: Request) -> None:
    """Bodies are JSON: a form or text/plain post (what a cross-site page can send without a
    preflight) is refused. A request without a Content-Type is read as JSON."""
    ctype = request.headers.get("content-type")
    if ctype is not None and not _JSON_TYPE.fullmatch(ctype.split(";")[0].strip()):
        raise RequestError(
            415,
            f"The body must be JSON (Content-Type: application/json). Got {ctype[:80]!r}.",
        )


class Authorizer:
    """API keys: global ones (`seer serve --api-key`, SEER_API_KEYS: every scope on every
    model) and the workspace's keys (`seer keys create`: some models, some scopes). While no
    key exists, everything is open; once one does, every model route needs a key."""

    def __init__(self, store: Store, global_keys: set[str], public_metrics: bool = False):
        self.store = store
        self.global_hashes = {hash_key(k) for k in global_keys}
        self.public_metrics = public_metrics
        self.grants: dict[str, Grant] = {}
        self.refresh()

    def refresh(self) -> None:
        self.grants = active_grants(self.store)

    @property
    def enabled(self) -> bool:
        return bool(self.global_hashes or self.grants)

    def check(
        self, request: Request, model: str | None, scope: str, any_model: bool = False
    ) -> Grant | None:
        """The grant of the request's key (None for a global key or when keys are off);
        401 without a valid key, 403 when the key lacks the scope for ``model`` (None: every
        model; with ``any_model``, the scope on some model is enough)."""
        if not self.enabled:
            return None
        auth = request.headers.get("authorization", "")
        key = (
            auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key")
        )
        if not key:
            raise RequestError(
                401,
                "This service needs an API key: send Authorization: Bearer <key> (or X-API-Key).",
            )
        digest = hash_key(key)
        if digest in self.global_hashes:
            return None
        grant = self.grants.get(digest)
        if grant is None:
            raise RequestError(401, "The API key is not valid (unknown or revoked).")
        allowed = scope in grant.scopes if any_model else grant.allows(model, scope)
        if not allowed:
            what = f'model "{model}"' if model else "all models"
            raise RequestError(
                403,
                f'API key {grant.key_id} may not "{scope}" {what}: create a key with '
                f"`seer keys create --scope {scope} {'--model ' + model if model else '--all'}`.",
            )
        return grant

    def may_read(self, grant: Grant | None, model: str) -> bool:
        return grant is None or grant.allows(model, "read")
