"""Read and validate C2PA Content Credentials, strictly offline.

`read_c2pa` hands the bytes to c2pa-python (the c2pa-rs library) and turns what it reports into
a `C2paInfo`: whether a manifest is there, whether the library found it intact, who signed it,
what it says was done to the picture and whether it declares the picture AI-generated.

Two rules shape everything here:

* **Offline.** photoloupe must never contact a server on behalf of the file it examines: that
  would leak what a journalist is looking at and make results depend on the network. The reader
  is configured so that remote manifests, OCSP revocation checks and identity (DID) look-ups are
  never fetched, and every network host is forbidden as a second line of defence.
* **Never raise.** A damaged or hostile file must give a report, not a crash. Every failure of the
  library becomes a field of `C2paInfo`.

Wording is careful on purpose: Content Credentials say who signed what and whether it was changed
afterwards; they do not say whether a picture shows what happened.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import c2pa

from photoloupe.i18n import t
from photoloupe.provenance.manifest import (
    actions_of,
    ai_claim,
    assertions_of,
    base_label,
    claim_generator,
    digital_source_types,
    ingredient_of,
    is_ai_source_type,
    list_of,
    mapping_of,
    text_of,
    unique,
)
from photoloupe.provenance.xmp import find_packet, properties
from photoloupe.schema.report import C2paInfo, C2paStatus

__all__ = ["C2PA_JUMBF_MARK", "EXPLANATIONS", "explain", "is_ai_source_type", "read_c2pa"]

# Verified against c2pa-python 0.38.1 / c2pa-rs 0.91.3. The defaults fetch remote manifests
# (`verify.remote_manifest_fetch` is true) and resolve `did:web` issuers of CAWG identity
# assertions over HTTPS even with remote fetching off, so each path is closed explicitly.
_OFFLINE_SETTINGS: Final[dict[str, Any]] = {
    "version": 1,
    "verify": {
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
        # Kept on: trust is checked against local anchors only, and "trusted" needs it.
        "verify_trust": True,
    },
    "core": {
        # An empty list forbids every host (checked: a remote manifest is then refused with
        # "not permitted by the allowed list" and no socket is opened). It is the net under
        # any network path a future library version might add.
        "allowed_network_hosts": [],
        # CAWG identity assertions of the identity-claims-aggregation kind can only be checked
        # by resolving a did:web document online. Decoding them offline yields a failure that
        # only means "photoloupe was offline", which would mark a sound manifest invalid. The
        # assertion itself stays covered by the claim signature (its hashed URI is checked).
        "decode_identity_assertions": False,
    },
}

_OFFLINE_NOTE: Final = (
    "The file says its Content Credentials are stored elsewhere{where}. They were not "
    "fetched, because photoloupe works offline, so they were not checked."
)
_NO_ANCHORS_NOTE: Final = (
    "The signature and the recorded fingerprints were checked, but photoloupe was given no "
    "trust list, so who signed the file cannot be confirmed."
)
_BAD_ANCHORS_NOTE: Final = (
    "The trust list given to photoloupe could not be used, so the file was checked without it "
    "and who signed it cannot be confirmed."
)
_IDENTITY_NOTE: Final = (
    "The manifest also carries an identity statement (CAWG) about who made the file; "
    "photoloupe does not check such statements offline."
)

# C2PA validation status codes that have a plain-language explanation, written for
# journalists; the sentences live in the message catalogues (`c2pa.status.<code>`, English and
# Arabic) so that an Arabic page explains them in Arabic.
STATUS_CODES: Final[tuple[str, ...]] = (
    "claimSignature.missing",
    "claimSignature.mismatch",
    "claimSignature.outsideValidity",
    "signingCredential.untrusted",
    "signingCredential.invalid",
    "signingCredential.revoked",
    "signingCredential.expired",
    "timeStamp.mismatch",
    "timeStamp.untrusted",
    "timeStamp.outsideValidity",
    "timeStamp.malformed",
    "assertion.dataHash.mismatch",
    "assertion.boxesHash.mismatch",
    "assertion.bmffHash.mismatch",
    "assertion.dataHash.malformed",
    "assertion.hashedURI.mismatch",
    "assertion.missing",
    "assertion.multipleHardBindings",
    "assertion.undeclared",
    "assertion.inaccessible",
    "assertion.cbor.invalid",
    "assertion.json.invalid",
    "assertion.action.ingredientMismatch",
    "assertion.action.malformed",
    "claim.missing",
    "claim.multiple",
    "claim.malformed",
    "claim.cbor.invalid",
    "claim.hardBindings.missing",
    "manifest.inaccessible",
    "manifest.multipleParents",
    "ingredient.hashedURI.mismatch",
    "ingredient.manifest.mismatch",
    "ingredient.manifest.missing",
    "ingredient.claimSignature.mismatch",
    "algorithm.unsupported",
    "algorithm.deprecated",
    "general.error",
    "cawg.ica.did_unavailable",
)
# Families of codes, for codes the list above does not name (the specification grows), in the
# order they are tried; each is explained by `c2pa.family.<prefix without its dot>`.
_FAMILIES: Final[tuple[str, ...]] = (
    "signingCredential.",
    "timeStamp.",
    "assertion.",
    "ingredient.",
    "claim",
    "manifest.",
    "cawg.",
    "algorithm.",
)
# Read errors of the library: text of the error -> the catalogue key of what it means.
_READ_ERRORS: Final[tuple[tuple[str, str], ...]] = (
    ("unknown algorithm", "c2pa.read_error.unknown_algorithm"),
)
# The English explanations, as before (tests and callers that want the table).
EXPLANATIONS: Final[Mapping[str, str]] = {code: t(f"c2pa.status.{code}") for code in STATUS_CODES}


_URL: Final = re.compile(r"https?://[^\s\"'<>()]+")
_ERROR_KIND: Final = re.compile(r"^\s*([A-Za-z]+)\s*:")
# The JUMBF description box of a C2PA manifest store: box type "jumd" followed by the C2PA
# UUID, whose first four bytes spell "c2pa". Lets a read error tell "no manifest" from
# "a manifest the library could not read".
C2PA_JUMBF_MARK: Final = b"jumdc2pa"

# Read errors that come before any certificate is looked at, so a trust list cannot cause them.
_NOT_ABOUT_TRUST: Final = frozenset(
    {"ManifestNotFound", "Remote", "RemoteManifest", "NotSupported"}
)

_MAX_ACTIONS: Final = 50
_MAX_INGREDIENTS: Final = 50

_State = Literal["valid", "invalid", "trusted"]
_STATES: Final[Mapping[str, _State]] = {
    "valid": "valid",
    "invalid": "invalid",
    "trusted": "trusted",
}


def read_c2pa(data: bytes, mime: str, *, trust_anchors_pem: str | None = None) -> C2paInfo:
    """Read and validate the C2PA manifest of an image, offline.

    `mime` is a hint (e.g. "image/jpeg"); the library also looks at the bytes. With
    `trust_anchors_pem` (PEM root certificates), a signature that chains to one of them is
    reported as trusted; without it nothing is trusted and `valid` says only whether the
    Content Credentials are intact. Never raises and never opens a network connection.
    """
    try:
        return _read(bytes(data), mime, trust_anchors_pem)
    except Exception as exc:
        # The contract is "never raise": a bug here or an unexpected library failure must
        # still leave the rest of the report intact, so it is reported, not propagated.
        present = C2PA_JUMBF_MARK in bytes(data) if isinstance(data, bytes | bytearray) else False
        return C2paInfo(
            present=present,
            valid=False if present else None,
            errors=[_read_error_status("internal", "", str(exc))] if present else [],
            note=f"The Content Credentials could not be examined ({type(exc).__name__}).",
        )


def explain(code: str, library_explanation: str | None = None, lang: str = "en") -> str:
    """Plain-language meaning of a C2PA validation status code, in `lang`.

    Unknown codes fall back to their family, then to a generic sentence that keeps the code and
    the library's own words so that nothing the library said is lost.
    """
    if code in STATUS_CODES:
        return t(f"c2pa.status.{code}", lang)
    detail = t("c2pa.library", lang, text=library_explanation) if library_explanation else ""
    for prefix in _FAMILIES:
        if code.startswith(prefix):
            return t(f"c2pa.family.{prefix.rstrip('.')}", lang) + detail
    return t("c2pa.generic", lang, code=code, detail=detail)


def _read(data: bytes, mime: str, trust_anchors_pem: str | None) -> C2paInfo:
    anchors = trust_anchors_pem if trust_anchors_pem and trust_anchors_pem.strip() else None
    notes: list[str] = []
    try:
        store = _manifest_store(data, mime, anchors)
    except c2pa.C2paError as exc:
        if anchors is None or _error_kind(exc)[0] in _NOT_ABOUT_TRUST:
            return _from_read_error(data, exc)
        # The library refuses a trust list it cannot parse with the same error types it uses
        # for damaged files; reading again without it tells the two apart.
        try:
            store = _manifest_store(data, mime, None)
        except c2pa.C2paError as retry_exc:
            return _from_read_error(data, retry_exc)
        anchors = None
        notes.append(_BAD_ANCHORS_NOTE)
    return _from_store(store, trusted_anchors_given=anchors is not None, notes=notes)


def _context(trust_anchors_pem: str | None) -> Any:
    """A fresh c2pa Context with the offline settings (cheap: about 0.2 ms)."""
    settings: dict[str, Any] = dict(_OFFLINE_SETTINGS)
    if trust_anchors_pem is not None:
        # `trust_anchors` replaces any built-in list, so "trusted" means "chains to what the
        # caller gave", which is what the report promises.
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context.from_dict(settings)


def _manifest_store(data: bytes, mime: str, trust_anchors_pem: str | None) -> dict[str, Any]:
    """The manifest store as the library reports it (its `Reader.json()`), parsed."""
    # An unusable hint (empty, or with a NUL the C layer would refuse) becomes "detect it".
    hint = mime.strip() if isinstance(mime, str) and "\x00" not in mime else ""
    context = _context(trust_anchors_pem)
    try:
        with c2pa.Reader(hint or None, io.BytesIO(data), context=context) as reader:
            text = reader.json()
    finally:
        context.close()
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else {}


def _error_kind(exc: BaseException) -> tuple[str, str]:
    """The library's error name (e.g. "ManifestNotFound", "Remote", "Other") and message."""
    message = str(getattr(exc, "message", "") or exc)
    match = _ERROR_KIND.match(message)
    if match:
        return match.group(1), message[match.end() :].strip()
    name = type(exc).__name__.removeprefix("_C2pa")
    return (name if name != "C2paError" else "Error"), message.strip()


def _from_read_error(data: bytes, exc: BaseException) -> C2paInfo:
    """Turn a refusal of the library into a report: absent, remote, unsupported or unreadable."""
    kind, message = _error_kind(exc)
    xmp_ref = _xmp_provenance(data)
    remote_ref = xmp_ref if xmp_ref and _URL.match(xmp_ref) else None

    if kind in {"Remote", "RemoteManifest"}:
        found = _URL.search(message)
        url = found.group(0).rstrip(".,;") if found else remote_ref
        return _remote(url)
    if kind == "ManifestNotFound":
        if remote_ref is not None:
            return _remote(remote_ref)
        note = None
        if xmp_ref and xmp_ref.startswith("self#jumbf="):
            note = (
                "The file's XMP metadata points to Content Credentials inside the file, but "
                "there are none: they may have been removed."
            )
        return C2paInfo(present=False, note=note)
    if kind == "NotSupported":
        if remote_ref is not None:
            return _remote(remote_ref)
        return C2paInfo(
            present=False,
            note="Content Credentials cannot be read in this file format, so none were checked.",
        )
    if C2PA_JUMBF_MARK in data:
        return C2paInfo(
            present=True,
            valid=False,
            state=None,
            errors=[_read_error_status(kind, kind, message)],
            note="The file holds Content Credentials, but they could not be read or checked.",
        )
    if remote_ref is not None:
        return _remote(remote_ref)
    return C2paInfo(
        present=False,
        note=(
            "The C2PA library could not parse this file, so no Content Credentials were "
            f"checked ({message or kind})."
        ),
    )


def _read_error_explanation(kind: str, message: str, lang: str = "en") -> str:
    lowered = message.lower()
    for needle, key in _READ_ERRORS:
        if needle in lowered:
            return t(key, lang)
    library = f"{kind + ': ' if kind else ''}{message}"
    detail = t("c2pa.library", lang, text=library) if message or kind else ""
    return t("c2pa.unreadable", lang, detail=detail)


def _remote(url: str | None) -> C2paInfo:
    where = f" ({url})" if url else ""
    return C2paInfo(present=False, remote_manifest_url=url, note=_OFFLINE_NOTE.format(where=where))


def _xmp_provenance(data: bytes) -> str | None:
    """The first `dcterms:provenance` value in the XMP, where C2PA points to a manifest."""
    packet = find_packet(data)
    if packet is None:
        return None
    values = [v for p, n, v in properties(packet) if (p, n) == ("dcterms", "provenance")]
    return values[0] if values else None


def _from_store(
    store: Mapping[str, Any], *, trusted_anchors_given: bool, notes: list[str]
) -> C2paInfo:
    """Build the report from a manifest store the library read and validated."""
    manifests = mapping_of(store.get("manifests"))
    active_label = store.get("active_manifest")
    active = mapping_of(manifests.get(active_label)) if isinstance(active_label, str) else {}

    state = _STATES.get(str(store.get("validation_state") or "").lower())
    valid = None if state is None else state != "invalid"
    trusted = trusted_anchors_given and state == "trusted"

    errors = _errors(store)
    codes = {status.code for status in errors}
    if state == "valid" and not trusted_anchors_given and "signingCredential.untrusted" in codes:
        notes.append(_NO_ANCHORS_NOTE)

    assertions = assertions_of(active)
    if any(base_label(a.get("label")) == "cawg.identity" for a in assertions):
        notes.append(_IDENTITY_NOTE)

    actions = list(actions_of(assertions))
    if len(actions) > _MAX_ACTIONS:
        notes.append(f"{len(actions) - _MAX_ACTIONS} further editing steps are not listed.")

    ingredients = [
        ingredient_of(ingredient, manifests)
        for ingredient in list_of(active.get("ingredients"))
        if isinstance(ingredient, Mapping)
    ]
    if len(ingredients) > _MAX_INGREDIENTS:
        notes.append(f"{len(ingredients) - _MAX_INGREDIENTS} further source files are not listed.")
    if any(ingredient.get("ai_generated_claim") for ingredient in ingredients):
        notes.append("A source file's Content Credentials declare it AI-generated.")

    source_types = unique(digital_source_types(assertions))
    signature = mapping_of(active.get("signature_info"))

    return C2paInfo(
        present=True,
        valid=valid,
        state=state,
        trusted=trusted,
        signer=text_of(signature.get("common_name")),
        issuer=text_of(signature.get("issuer")),
        signed_at=text_of(signature.get("time")),
        claim_generator=claim_generator(active),
        title=text_of(active.get("title")),
        actions=actions[:_MAX_ACTIONS],
        ingredients=ingredients[:_MAX_INGREDIENTS],
        digital_source_types=source_types,
        ai_generated_claim=ai_claim(active, manifests, set()),
        errors=errors,
        note=" ".join(notes) or None,
    )


def _errors(store: Mapping[str, Any]) -> list[C2paStatus]:
    """Failures of the active manifest, one per code, in the library's order.

    `validation_results.activeManifest.failure` is the active manifest's own list; the older
    top-level `validation_status` also mixes in the ingredients' failures, so it is only used
    when the structured results are missing.
    """
    results = mapping_of(store.get("validation_results"))
    active_results = results.get("activeManifest")
    if isinstance(active_results, Mapping):
        entries = list_of(active_results.get("failure"))
    else:
        entries = list_of(store.get("validation_status"))
    seen: set[str] = set()
    errors: list[C2paStatus] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code = text_of(entry.get("code"))
        if code is None or code in seen:
            continue
        seen.add(code)
        library = text_of(entry.get("explanation"))
        errors.append(_status(code, explain(code, library), explain(code, library, "ar"), entry))
    return errors


def _status(
    code: str, explanation: str, explanation_ar: str, entry: Mapping[str, Any] | None = None
) -> C2paStatus:
    url = text_of(entry.get("url")) if entry is not None else None
    return C2paStatus(code=code, explanation=explanation, explanation_ar=explanation_ar, url=url)


def _read_error_status(code: str, kind: str, message: str) -> C2paStatus:
    return _status(
        code,
        _read_error_explanation(kind, message),
        _read_error_explanation(kind, message, "ar"),
    )
