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
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal, cast

import c2pa

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

# Plain-language explanations of C2PA validation status codes, written for journalists.
EXPLANATIONS: Final[Mapping[str, str]] = {
    "claimSignature.missing": (
        "the Content Credentials have no signature, so nothing in them can be checked"
    ),
    "claimSignature.mismatch": (
        "the signature does not match the Content Credentials: they were changed after they "
        "were signed, or the signature is damaged"
    ),
    "claimSignature.outsideValidity": (
        "the file was signed at a time when the signing certificate was not valid"
    ),
    "signingCredential.untrusted": (
        "signed with a certificate that is not on a trust list photoloupe was given; the "
        "signature can be checked but not who made it"
    ),
    "signingCredential.invalid": (
        "the signing certificate does not meet the rules for Content Credentials (for example "
        "it is damaged or not marked for this kind of signing), so the signature cannot be "
        "relied on"
    ),
    "signingCredential.revoked": (
        "the signing certificate was withdrawn (revoked) by the organisation that issued it"
    ),
    "signingCredential.expired": "the signing certificate had expired when the file was signed",
    "timeStamp.mismatch": (
        "the time-stamp does not match the signature, so the time of signing cannot be confirmed"
    ),
    "timeStamp.untrusted": (
        "the time-stamp comes from a time-stamping service that is not on a trust list, so the "
        "time of signing cannot be confirmed"
    ),
    "timeStamp.outsideValidity": (
        "the time-stamp was made while the time-stamping certificate was not valid"
    ),
    "timeStamp.malformed": "the time-stamp is damaged or cannot be read",
    "assertion.dataHash.mismatch": (
        "the file's bytes no longer match the fingerprint recorded when it was signed: the file "
        "was changed after signing"
    ),
    "assertion.boxesHash.mismatch": (
        "the file's bytes no longer match the fingerprint recorded when it was signed: the file "
        "was changed after signing"
    ),
    "assertion.bmffHash.mismatch": (
        "the file's bytes no longer match the fingerprint recorded when it was signed: the file "
        "was changed after signing"
    ),
    "assertion.dataHash.malformed": "the recorded fingerprint of the file is damaged",
    "assertion.hashedURI.mismatch": (
        "a statement inside the Content Credentials was changed after signing: it no longer "
        "matches its recorded fingerprint"
    ),
    "assertion.missing": "the Content Credentials refer to a statement that is not in the file",
    "assertion.multipleHardBindings": (
        "the Content Credentials record more than one fingerprint of the file, which is not allowed"
    ),
    "assertion.undeclared": "the Content Credentials hold a statement the signature does not cover",
    "assertion.inaccessible": "a statement in the Content Credentials could not be read",
    "assertion.cbor.invalid": "a statement in the Content Credentials is damaged",
    "assertion.json.invalid": "a statement in the Content Credentials is damaged",
    "assertion.action.ingredientMismatch": (
        "an editing step refers to a source file that does not match the one recorded"
    ),
    "assertion.action.malformed": "the list of editing steps is malformed",
    "claim.missing": "the file holds a Content Credentials container, but no signed claim in it",
    "claim.multiple": "the Content Credentials hold more than one claim, which is not allowed",
    "claim.malformed": "the Content Credentials are damaged and could not be read",
    "claim.cbor.invalid": "the Content Credentials are damaged and could not be read",
    "claim.hardBindings.missing": (
        "the Content Credentials record no fingerprint of the file, so they are not tied to it"
    ),
    "manifest.inaccessible": "the Content Credentials could not be read",
    "manifest.multipleParents": (
        "the Content Credentials name more than one parent file, which is not allowed"
    ),
    "ingredient.hashedURI.mismatch": (
        "a source file recorded in the Content Credentials no longer matches its fingerprint"
    ),
    "ingredient.manifest.mismatch": (
        "the Content Credentials of a source file were changed after they were recorded"
    ),
    "ingredient.manifest.missing": (
        "the Content Credentials of a source file are referred to but missing"
    ),
    "ingredient.claimSignature.mismatch": (
        "the signature on a source file's Content Credentials does not match"
    ),
    "algorithm.unsupported": "the signature uses an algorithm that cannot be checked",
    "algorithm.deprecated": "the signature uses an outdated algorithm that is no longer accepted",
    "general.error": "the C2PA library hit an unexpected error while checking the file",
    "cawg.ica.did_unavailable": (
        "an identity statement (who made the file) could not be checked, because that needs "
        "an online look-up"
    ),
}

# Families of codes, for codes the table above does not name (the specification grows).
_FAMILY_EXPLANATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("signingCredential.", "there is a problem with the signing certificate"),
    ("timeStamp.", "there is a problem with the time-stamp, so the time of signing is unsure"),
    ("assertion.", "a statement inside the Content Credentials did not check out"),
    ("ingredient.", "the Content Credentials of a source file did not check out"),
    ("claim", "the signed part of the Content Credentials did not check out"),
    ("manifest.", "the Content Credentials did not check out"),
    ("cawg.", "an identity statement (who made the file) could not be confirmed"),
    ("algorithm.", "the signature algorithm cannot be checked"),
)

# Read errors of the library: what the text of the error means, in plain words.
_READ_ERROR_EXPLANATIONS: Final[tuple[tuple[str, str], ...]] = (
    (
        "unknown algorithm",
        "the Content Credentials name a signature algorithm the C2PA library does not know, so "
        "they cannot be checked",
    ),
)

_DIGITAL_SOURCE_AI: Final = frozenset(
    {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia"}
)
# Wording that states AI generation outright, as Bing Image Creator writes "AI Generated Image".
# A bare "AI" is not enough: "Adobe Firefly AI" or "AI denoise" describe tools, not origin.
_AI_PHRASE: Final = re.compile(
    r"\bAI[\s_-]?generated\b|\bgenerated\s+(?:by|with|using)\s+(?:an?\s+)?AI\b", re.IGNORECASE
)
# Producers whose manifests only ever describe AI-generated images, for manifests written before
# IPTC digital source types were common. Microsoft's image provenance service signs Bing Image
# Creator, Designer and Azure OpenAI output under this claim generator.
_AI_GENERATORS: Final = re.compile(r"^\s*Microsoft[\s_]Responsible[\s_]AI\b", re.IGNORECASE)

_XMP_PROVENANCE: Final = re.compile(
    rb"dcterms:provenance\s*=\s*[\"']([^\"'<>]{1,2048})[\"']"
    rb"|<dcterms:provenance>\s*([^<]{1,2048}?)\s*</dcterms:provenance>"
)
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
_MAX_DEPTH: Final = 24

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
            errors=[_status("internal", _read_error_explanation("", str(exc)))] if present else [],
            note=f"The Content Credentials could not be examined ({type(exc).__name__}).",
        )


def explain(code: str, library_explanation: str | None = None) -> str:
    """Plain-language meaning of a C2PA validation status code.

    Unknown codes fall back to their family, then to a generic sentence that keeps the code and
    the library's own words so that nothing the library said is lost.
    """
    known = EXPLANATIONS.get(code)
    if known is not None:
        return known
    detail = f" (library: {library_explanation})" if library_explanation else ""
    for prefix, text in _FAMILY_EXPLANATIONS:
        if code.startswith(prefix):
            return f"{text}{detail}"
    return f"the C2PA check reported '{code}'{detail}"


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
            errors=[_status(kind, _read_error_explanation(kind, message))],
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


def _read_error_explanation(kind: str, message: str) -> str:
    lowered = message.lower()
    for needle, text in _READ_ERROR_EXPLANATIONS:
        if needle in lowered:
            return text
    detail = f" (library: {kind + ': ' if kind else ''}{message})" if message or kind else ""
    return (
        f"the Content Credentials in this file could not be read, so they were not checked{detail}"
    )


def _remote(url: str | None) -> C2paInfo:
    where = f" ({url})" if url else ""
    return C2paInfo(present=False, remote_manifest_url=url, note=_OFFLINE_NOTE.format(where=where))


def _xmp_provenance(data: bytes) -> str | None:
    """The first `dcterms:provenance` value in the XMP, where C2PA points to a manifest."""
    match = _XMP_PROVENANCE.search(data)
    if match is None:
        return None
    raw = match.group(1) or match.group(2) or b""
    value = raw.decode("utf-8", "replace").strip()
    return value or None


def _from_store(
    store: Mapping[str, Any], *, trusted_anchors_given: bool, notes: list[str]
) -> C2paInfo:
    """Build the report from a manifest store the library read and validated."""
    manifests = _mapping(store.get("manifests"))
    active_label = store.get("active_manifest")
    active = _mapping(manifests.get(active_label)) if isinstance(active_label, str) else {}

    state = _STATES.get(str(store.get("validation_state") or "").lower())
    valid = None if state is None else state != "invalid"
    trusted = trusted_anchors_given and state == "trusted"

    errors = _errors(store)
    codes = {status.code for status in errors}
    if state == "valid" and not trusted_anchors_given and "signingCredential.untrusted" in codes:
        notes.append(_NO_ANCHORS_NOTE)

    assertions = _assertions(active)
    if any(_base_label(a.get("label")) == "cawg.identity" for a in assertions):
        notes.append(_IDENTITY_NOTE)

    actions = list(_actions(assertions))
    if len(actions) > _MAX_ACTIONS:
        notes.append(f"{len(actions) - _MAX_ACTIONS} further editing steps are not listed.")

    ingredients = [
        _ingredient(ingredient, manifests)
        for ingredient in _list(active.get("ingredients"))
        if isinstance(ingredient, Mapping)
    ]
    if len(ingredients) > _MAX_INGREDIENTS:
        notes.append(f"{len(ingredients) - _MAX_INGREDIENTS} further source files are not listed.")
    if any(ingredient.get("ai_generated_claim") for ingredient in ingredients):
        notes.append("A source file's Content Credentials declare it AI-generated.")

    source_types = _unique(_digital_source_types(assertions))
    signature = _mapping(active.get("signature_info"))

    return C2paInfo(
        present=True,
        valid=valid,
        state=state,
        trusted=trusted,
        signer=_text(signature.get("common_name")),
        issuer=_text(signature.get("issuer")),
        signed_at=_text(signature.get("time")),
        claim_generator=_claim_generator(active),
        title=_text(active.get("title")),
        actions=actions[:_MAX_ACTIONS],
        ingredients=ingredients[:_MAX_INGREDIENTS],
        digital_source_types=source_types,
        ai_generated_claim=_ai_claim(active, manifests, set()),
        errors=errors,
        note=" ".join(notes) or None,
    )


def _errors(store: Mapping[str, Any]) -> list[C2paStatus]:
    """Failures of the active manifest, one per code, in the library's order.

    `validation_results.activeManifest.failure` is the active manifest's own list; the older
    top-level `validation_status` also mixes in the ingredients' failures, so it is only used
    when the structured results are missing.
    """
    results = _mapping(store.get("validation_results"))
    active_results = results.get("activeManifest")
    if isinstance(active_results, Mapping):
        entries = _list(active_results.get("failure"))
    else:
        entries = _list(store.get("validation_status"))
    seen: set[str] = set()
    errors: list[C2paStatus] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code = _text(entry.get("code"))
        if code is None or code in seen:
            continue
        seen.add(code)
        errors.append(_status(code, explain(code, _text(entry.get("explanation"))), entry))
    return errors


def _status(code: str, explanation: str, entry: Mapping[str, Any] | None = None) -> C2paStatus:
    url = _text(entry.get("url")) if entry is not None else None
    return C2paStatus(code=code, explanation=explanation, url=url)


def _assertions(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in _list(manifest.get("assertions")) if isinstance(a, Mapping)]


def _base_label(label: object) -> str:
    # Repeated assertions get an instance suffix ("c2pa.actions__1"); versions stay ("…v2").
    return label.split("__", 1)[0] if isinstance(label, str) else ""


def _is_actions(label: str) -> bool:
    return label == "c2pa.actions" or label.startswith("c2pa.actions.v")


def _actions(assertions: list[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each recorded editing step, reduced to what a reader of the report needs."""
    for assertion in assertions:
        if not _is_actions(_base_label(assertion.get("label"))):
            continue
        data = _mapping(assertion.get("data"))
        agents = _list(data.get("softwareAgents"))
        for raw in _list(data.get("actions")):
            if not isinstance(raw, Mapping):
                continue
            agent = raw.get("softwareAgent")
            index = raw.get("softwareAgentIndex")
            if agent is None and isinstance(index, int) and 0 <= index < len(agents):
                agent = agents[index]
            parameters = _mapping(raw.get("parameters"))
            source_type = _text(raw.get("digitalSourceType"))
            action = {
                "action": _text(raw.get("action")),
                "softwareAgent": _agent(agent),
                "digitalSourceType": source_type.strip() if source_type else None,
                "when": _text(raw.get("when")),
                "description": _text(raw.get("description"))
                or _text(parameters.get("description")),
            }
            yield {key: value for key, value in action.items() if value}


def _agent(agent: object) -> str | None:
    """A software agent as text: a plain string, or "name/version" from a generator-info map."""
    if isinstance(agent, str):
        return agent.strip() or None
    if isinstance(agent, Mapping):
        name = _text(agent.get("name"))
        version = _text(agent.get("version"))
        if name:
            return f"{name}/{version}" if version else name
    return None


def _claim_generator(manifest: Mapping[str, Any]) -> str | None:
    # claim_generator_info is the current form and names each component; the plain string is
    # the C2PA 1.x form, kept by older manifests (and alongside the list by some signers).
    parts = [_agent(info) for info in _list(manifest.get("claim_generator_info"))]
    joined = " ".join(part for part in parts if part)
    return joined or _text(manifest.get("claim_generator"))


def _ingredient(ingredient: Mapping[str, Any], manifests: Mapping[str, Any]) -> dict[str, Any]:
    """A source file of the picture: what it is and whether its own credentials checked out."""
    label = ingredient.get("active_manifest")
    own = _mapping(manifests.get(label)) if isinstance(label, str) else {}
    results = _mapping(ingredient.get("validation_results"))
    active_results = results.get("activeManifest")
    if isinstance(active_results, Mapping):
        entries = _list(active_results.get("failure"))
    else:
        entries = _list(ingredient.get("validation_status"))
    failures = _unique(
        code
        for entry in entries
        if isinstance(entry, Mapping) and (code := _text(entry.get("code"))) is not None
    )
    summary: dict[str, Any] = {
        "title": _text(ingredient.get("title")),
        "format": _text(ingredient.get("format")),
        "relationship": _text(ingredient.get("relationship")),
        "has_credentials": bool(own) or isinstance(label, str),
        "validation_failures": failures,
    }
    if own and _ai_claim(own, manifests, {label} if isinstance(label, str) else set()):
        summary["ai_generated_claim"] = True
    return {key: value for key, value in summary.items() if value is not None}


def _digital_source_types(assertions: list[Mapping[str, Any]]) -> Iterator[str]:
    """Every digitalSourceType anywhere in the assertions (actions, templates, IPTC metadata)."""
    for assertion in assertions:
        yield from _find_source_types(assertion.get("data"), 0)


def _find_source_types(value: object, depth: int) -> Iterator[str]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            # Matches "digitalSourceType" and XMP-style "Iptc4xmpExt:DigitalSourceType".
            if isinstance(key, str) and key.lower().endswith("digitalsourcetype"):
                if isinstance(item, str) and item.strip():
                    yield item.strip()
                elif isinstance(item, Mapping) and isinstance(item.get("@id"), str):
                    yield str(item["@id"]).strip()
            else:
                yield from _find_source_types(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _find_source_types(item, depth + 1)


def is_ai_source_type(value: str) -> bool:
    """True for the IPTC/C2PA digital source types that declare generative-AI output.

    Only the last segment counts, so any URL prefix (IPTC newscodes, c2pa.org, a bare term)
    and stray whitespace or a trailing slash are accepted.
    """
    term = re.split(r"[/#:]", value.strip().rstrip("/"))[-1]
    return term.lower() in _DIGITAL_SOURCE_AI


def _ai_claim(manifest: Mapping[str, Any], manifests: Mapping[str, Any], seen: set[str]) -> bool:
    """Whether a manifest, or one of its ingredients' manifests, declares AI generation."""
    assertions = _assertions(manifest)
    if any(is_ai_source_type(value) for value in _digital_source_types(assertions)):
        return True
    for action in _actions(assertions):
        texts = (action.get("description"), action.get("softwareAgent"))
        if any(isinstance(text, str) and _AI_PHRASE.search(text) for text in texts):
            return True
    generators = [_text(manifest.get("claim_generator"))]
    generators += [_agent(info) for info in _list(manifest.get("claim_generator_info"))]
    if any(g and (_AI_GENERATORS.search(g) or _AI_PHRASE.search(g)) for g in generators):
        return True
    for ingredient in _list(manifest.get("ingredients")):
        if not isinstance(ingredient, Mapping):
            continue
        label = ingredient.get("active_manifest")
        # The store is a graph written by the file's author: guard against cycles.
        if isinstance(label, str) and label not in seen and label in manifests:
            seen.add(label)
            if _ai_claim(_mapping(manifests[label]), manifests, seen):
                return True
    return False


def _mapping(value: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _unique(values: Iterator[str] | list[str]) -> list[str]:
    return list(dict.fromkeys(values))
