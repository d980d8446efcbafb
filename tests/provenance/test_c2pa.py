"""Tests of the offline C2PA reader (`photoloupe.provenance.c2pa`).

Two kinds of evidence: the public fixtures in ../shared/data/c2pa (real signed, broken and
remote-manifest files), and files signed here with a throw-away certificate chain, so that
trust, AI declarations and tampering can be tested on bytes whose content is known.
"""

from __future__ import annotations

import io
import json
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from PIL import Image

from photoloupe.provenance.c2pa import EXPLANATIONS, explain, is_ai_source_type, read_c2pa
from photoloupe.provenance.demo_signing import ThrowawayChain, make_throwaway_chain
from photoloupe.provenance.demo_signing import sign as demo_sign
from photoloupe.schema.report import C2paInfo

_Test = TypeVar("_Test", bound=Callable[..., None])

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_skip_without_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data is not beside the checkout"
)


def needs_shared(test: _Test) -> _Test:
    """Mark a test as reading ../shared/data (the project's `shared` marker), and skip it with
    a reason when the folder is not beside the checkout."""
    return cast(_Test, pytest.mark.shared(_skip_without_shared(test)))


MIME_BY_SUFFIX = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".dng": "image/x-adobe-dng",
    ".psd": "image/vnd.adobe.photoshop",
}

BING = "c2pa-extension-validator-a0de05cb8b.jpg"
CLAIM_SIGNATURE_MISMATCH = "c2pa-python-20dc072a4c.jpg"
DATA_HASH_MISMATCH = "c2pa-python-81f20702a2.jpg"
UNKNOWN_ALGORITHM = "c2pa-rs-7c91641416.jpg"
# Files whose XMP says the manifest is on a server (dcterms:provenance).
REMOTE = {
    "c2pa-python-e6ad9f51be.jpg": (
        "https://cai-manifests.adobe.com/manifests/adobe-urn-uuid-5f37e182-3687-462e-a7fb-573462780391"
    ),
    "c2pa-python-15ca426348.jpg": (
        "https://cai-manifestx.adobe.com/manifests/adobe-urn-uuid-5f37e182-3687-462e-a7fb-573462780391"
    ),
    "c2pa-rs-8ffdf61c64.png": "http://localhost:5000/libpng-test.c2pa",
}


@dataclass(frozen=True)
class Fixture:
    path: Path
    source_path: str

    @property
    def mime(self) -> str:
        return MIME_BY_SUFFIX[self.path.suffix.lower()]

    def read(self) -> C2paInfo:
        return read_c2pa(self.path.read_bytes(), self.mime)


def _fixtures(folder: str) -> list[Fixture]:
    """The fixtures of c2pa/<folder>, with their source path from manifest.json."""
    if not SHARED.is_dir():
        return []
    entries = json.loads((SHARED / "manifest.json").read_text(encoding="utf-8"))
    found = [
        Fixture(SHARED / entry["path"], str(entry.get("source_path", "")))
        for entry in entries
        if str(entry.get("path", "")).startswith(f"c2pa/{folder}/")
    ]
    return sorted(found, key=lambda fixture: fixture.path.name)


def _params(fixtures: list[Fixture]) -> list[Any]:
    return [pytest.param(fixture, id=fixture.path.name) for fixture in fixtures]


# signed/ holds one file that is not signed: its source is c2pa-rs's
# sdk/tests/fixtures/no_manifest.jpg, which really has no manifest (no JUMBF at all). "Signed
# fixtures" are therefore the files in signed/ whose source path does not say "no_manifest".
SIGNED = [f for f in _fixtures("signed") if "no_manifest" not in f.source_path]
NO_MANIFEST = [f for f in _fixtures("signed") if "no_manifest" in f.source_path]
UNSIGNED = _fixtures("unsigned")


def _by_name(name: str) -> Fixture:
    for fixture in SIGNED + NO_MANIFEST + UNSIGNED:
        if fixture.path.name == name:
            return fixture
    raise LookupError(f"fixture {name} is not listed in ../shared/data/manifest.json")


def _codes(info: C2paInfo) -> set[str]:
    return {status.code for status in info.errors}


# --- Public fixtures -------------------------------------------------------------------------


@needs_shared
def test_fixture_lists_are_not_empty() -> None:
    # Guards the parametrised tests below against passing vacuously on an empty list.
    assert len(SIGNED) >= 10
    assert len(UNSIGNED) >= 10
    assert len(NO_MANIFEST) == 1


@needs_shared
@pytest.mark.parametrize("fixture", _params(SIGNED))
def test_signed_fixture_has_a_manifest(fixture: Fixture) -> None:
    info = fixture.read()
    assert info.present is True
    assert info.valid is not None
    assert info.remote_manifest_url is None
    if info.valid:
        assert info.state in {"valid", "trusted"}
        assert info.signer, "a manifest the library accepted names its signer"
    else:
        assert info.errors, "an invalid manifest must say why"
    # No trust list was given, so nothing may be reported as trusted.
    assert info.trusted is False


@needs_shared
@pytest.mark.parametrize("fixture", _params(NO_MANIFEST))
def test_no_manifest_fixture_in_signed_folder_is_reported_absent(fixture: Fixture) -> None:
    info = fixture.read()
    assert info.present is False
    assert info.valid is None
    assert info.errors == []


@needs_shared
@pytest.mark.parametrize("fixture", _params(UNSIGNED))
def test_unsigned_fixture_has_no_manifest(fixture: Fixture) -> None:
    info = fixture.read()
    assert info.present is False
    assert info.valid is None
    assert info.state is None
    assert info.ai_generated_claim is False
    if fixture.path.name in REMOTE:
        assert info.remote_manifest_url == REMOTE[fixture.path.name]
    else:
        assert info.remote_manifest_url is None


@needs_shared
@pytest.mark.parametrize(
    ("name", "code"),
    [
        (CLAIM_SIGNATURE_MISMATCH, "claimSignature.mismatch"),
        (DATA_HASH_MISMATCH, "assertion.dataHash.mismatch"),
    ],
)
def test_broken_fixture_is_invalid_with_its_code(name: str, code: str) -> None:
    info = _by_name(name).read()
    assert info.present is True
    assert info.valid is False
    assert info.state == "invalid"
    assert code in _codes(info)
    status = next(s for s in info.errors if s.code == code)
    assert status.explanation == EXPLANATIONS[code]
    assert status.explanation_ar == explain(code, lang="ar")
    assert len(info.errors) == len(_codes(info)), "errors are deduplicated by code"


@needs_shared
def test_unknown_algorithm_is_present_but_invalid() -> None:
    info = _by_name(UNKNOWN_ALGORITHM).read()
    assert info.present is True
    assert info.valid is False
    assert info.errors and info.errors[0].code
    assert "algorithm" in info.errors[0].explanation
    assert info.errors[0].explanation_ar and "C2PA" in info.errors[0].explanation_ar


@needs_shared
def test_bing_image_creator_declares_ai_generation() -> None:
    info = _by_name(BING).read()
    assert info.present is True
    assert info.ai_generated_claim is True
    assert info.claim_generator and "Microsoft" in info.claim_generator
    assert info.actions and info.actions[0]["action"] == "c2pa.created"


@needs_shared
@pytest.mark.parametrize("fixture", _params([f for f in SIGNED if f.path.name != BING]))
def test_signed_fixtures_without_ai_declaration_are_not_flagged(fixture: Fixture) -> None:
    # None of the other fixtures declares generative AI (some say algorithmicMedia, which is
    # procedural, not AI): the AI rule must not fire on them.
    assert fixture.read().ai_generated_claim is False


@needs_shared
def test_untrusted_alone_does_not_make_a_manifest_invalid() -> None:
    info = _by_name("c2pa-rs-a2d14755db.jpg").read()
    assert _codes(info) == {"signingCredential.untrusted"}
    assert info.valid is True
    assert info.state == "valid"
    assert info.note and "trust list" in info.note


@needs_shared
@pytest.mark.parametrize("name", sorted(REMOTE))
def test_remote_manifest_is_not_fetched(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _by_name(name).path.read_bytes()
    _forbid_python_sockets(monkeypatch)
    started = time.monotonic()
    info = read_c2pa(data, MIME_BY_SUFFIX[Path(name).suffix])
    assert time.monotonic() - started < 2.0
    assert info.present is False
    assert info.remote_manifest_url == REMOTE[name]
    assert info.note and "offline" in info.note and "not fetched" in info.note


@needs_shared
def test_no_fixture_makes_the_reader_raise() -> None:
    # Every file, every mime (right, wrong, empty), whole and cut short: a report, never a raise.
    mimes = ["image/jpeg", "image/png", "application/octet-stream", ""]
    for fixture in SIGNED + NO_MANIFEST + UNSIGNED:
        data = fixture.path.read_bytes()
        for mime in [fixture.mime, *mimes]:
            assert isinstance(read_c2pa(data, mime), C2paInfo)
        for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
            assert isinstance(read_c2pa(data[:cut], fixture.mime), C2paInfo)


# --- Network ---------------------------------------------------------------------------------


def _forbid_python_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("photoloupe tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _jpeg_with_xmp_provenance(url: str) -> bytes:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        f'xmlns:dcterms="http://purl.org/dc/terms/" dcterms:provenance="{url}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (40, 90, 160)).save(out, "JPEG", xmp=xmp)
    return out.getvalue()


def test_remote_manifest_on_a_listening_server_gets_no_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The native library opens its own sockets, which Python patches cannot see: so a real
    local server is named as the manifest's home, and must receive no connection. (With the
    library's default settings it does receive one: this test can fail.)"""
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/manifest.c2pa"
        data = _jpeg_with_xmp_provenance(url)
        _forbid_python_sockets(monkeypatch)
        started = time.monotonic()
        info = read_c2pa(data, "image/jpeg")
        elapsed = time.monotonic() - started
        monkeypatch.undo()
        pending, _, _ = select.select([server], [], [], 0.3)
    assert not pending, "the C2PA library connected to the remote manifest's server"
    assert elapsed < 2.0
    assert info.present is False
    assert info.remote_manifest_url == url
    assert info.note and "offline" in info.note


# --- Files signed here -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    chain: ThrowawayChain
    root_pem: str
    other_root_pem: str  # a root that signed nothing here


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    chain = make_throwaway_chain("photoloupe tests")
    other = make_throwaway_chain("unrelated")
    return Credentials(chain, chain.root_pem, other.root_pem)


def _picture() -> bytes:
    out = io.BytesIO()
    # Noise, so that the entropy-coded data is long enough to tamper with safely.
    Image.effect_noise((96, 64), 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


Sign = Callable[..., bytes]


@pytest.fixture(scope="module")
def sign(credentials: Credentials) -> Sign:
    """Sign a fresh JPEG with the given actions (and ingredients), offline: no time-stamp URL."""

    def _sign(actions: list[dict[str, Any]], ingredients: tuple[bytes, ...] = ()) -> bytes:
        manifest = {
            "claim_generator_info": [{"name": "photoloupe-tests", "version": "1"}],
            "title": "test.jpg",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
        }
        sources = tuple(
            ({"title": f"source-{n}.jpg", "relationship": "componentOf"}, "image/jpeg", data)
            for n, data in enumerate(ingredients)
        )
        return demo_sign(_picture(), "image/jpeg", manifest, credentials.chain, ingredients=sources)

    return _sign


IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _created(source_type: str | None = None, **fields: str) -> list[dict[str, Any]]:
    action: dict[str, Any] = {"action": "c2pa.created", **fields}
    if source_type is not None:
        action["digitalSourceType"] = source_type
    return [action]


def test_self_signed_is_valid_but_not_trusted_without_anchors(sign: Sign) -> None:
    info = read_c2pa(sign(_created(IPTC + "digitalCapture")), "image/jpeg")
    assert info.present is True
    assert info.valid is True
    assert info.state == "valid"
    assert info.trusted is False
    assert info.signer == "photoloupe tests signer"
    assert info.issuer == "photoloupe tests"
    assert info.claim_generator and info.claim_generator.startswith("photoloupe-tests/1")
    assert info.title == "test.jpg"
    assert _codes(info) == {"signingCredential.untrusted"}
    assert info.errors[0].explanation == EXPLANATIONS["signingCredential.untrusted"]


def test_self_signed_is_trusted_with_its_root(sign: Sign, credentials: Credentials) -> None:
    data = sign(_created(IPTC + "digitalCapture"))
    info = read_c2pa(data, "image/jpeg", trust_anchors_pem=credentials.root_pem)
    assert info.valid is True
    assert info.state == "trusted"
    assert info.trusted is True
    assert info.errors == []


def test_self_signed_is_not_trusted_with_another_root(sign: Sign, credentials: Credentials) -> None:
    data = sign(_created(IPTC + "digitalCapture"))
    info = read_c2pa(data, "image/jpeg", trust_anchors_pem=credentials.other_root_pem)
    assert info.valid is True
    assert info.state == "valid"
    assert info.trusted is False
    assert "signingCredential.untrusted" in _codes(info)


def test_unusable_trust_list_is_reported_not_raised(sign: Sign) -> None:
    info = read_c2pa(sign(_created(IPTC + "digitalCapture")), "image/jpeg", trust_anchors_pem="x")
    assert info.present is True
    assert info.valid is True
    assert info.trusted is False
    assert info.note and "trust list" in info.note


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (_created(IPTC + "trainedAlgorithmicMedia"), True),
        (_created("https://example.org/terms/compositeWithTrainedAlgorithmicMedia"), True),
        (_created(" " + IPTC + "trainedAlgorithmicMedia "), True),
        (_created(IPTC + "digitalCapture"), False),
        (_created(IPTC + "algorithmicMedia"), False),
        (_created(IPTC + "digitalCapture", description="AI Generated Image"), True),
        (_created(IPTC + "digitalCapture", softwareAgent="AI denoise 2.0"), False),
        (_created(IPTC + "digitalCapture", description="Retouched with Firefly AI tools"), False),
    ],
    ids=[
        "trainedAlgorithmicMedia",
        "composite-other-prefix",
        "padded",
        "digitalCapture",
        "algorithmicMedia",
        "ai-generated-description",
        "ai-tool-agent",
        "ai-tool-description",
    ],
)
def test_ai_generated_claim(sign: Sign, actions: list[dict[str, Any]], expected: bool) -> None:
    info = read_c2pa(sign(actions), "image/jpeg")
    assert info.valid is True
    assert info.ai_generated_claim is expected
    declared = actions[0]["digitalSourceType"].strip()
    assert declared in info.digital_source_types
    assert info.actions[0]["digitalSourceType"] == declared


def test_ai_claim_of_an_ingredient_is_found(sign: Sign) -> None:
    source = sign(_created(IPTC + "trainedAlgorithmicMedia"))
    info = read_c2pa(sign(_created(IPTC + "composite"), (source,)), "image/jpeg")
    assert info.valid is True
    assert info.ai_generated_claim is True
    assert IPTC + "trainedAlgorithmicMedia" not in info.digital_source_types
    assert [i.get("ai_generated_claim") for i in info.ingredients] == [True]
    assert info.ingredients[0]["has_credentials"] is True


def _flip_scan_byte(data: bytes) -> bytes:
    """Change one byte of entropy-coded pixel data, keeping the JPEG structure parseable."""
    sos = data.rindex(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    end = data.rindex(b"\xff\xd9")
    for position in range((start + end) // 2, end):
        if data[position] not in (0x00, 0xFE, 0xFF) and data[position - 1] != 0xFF:
            changed = bytearray(data)
            changed[position] ^= 0x01
            return bytes(changed)
    raise AssertionError("no byte of the scan data can be changed safely")


def test_changed_pixel_data_breaks_the_data_hash(sign: Sign) -> None:
    data = sign(_created(IPTC + "digitalCapture"))
    assert read_c2pa(data, "image/jpeg").valid is True
    info = read_c2pa(_flip_scan_byte(data), "image/jpeg")
    assert info.present is True
    assert info.valid is False
    assert info.state == "invalid"
    assert "assertion.dataHash.mismatch" in _codes(info)


def test_damaged_signed_files_never_raise(sign: Sign) -> None:
    data = sign(_created(IPTC + "trainedAlgorithmicMedia"))
    manifest_at = data.index(b"jumb")
    for offset in range(manifest_at, min(len(data), manifest_at + 4000), 97):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        assert isinstance(read_c2pa(bytes(damaged), "image/jpeg"), C2paInfo)
    for cut in range(0, len(data), max(1, len(data) // 25)):
        assert isinstance(read_c2pa(data[:cut], "image/jpeg"), C2paInfo)


# --- Pure helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (IPTC + "trainedAlgorithmicMedia", True),
        (IPTC + "compositeWithTrainedAlgorithmicMedia", True),
        ("trainedAlgorithmicMedia", True),
        ("http://c2pa.org/digitalsourcetype/trainedAlgorithmicMedia/", True),
        (IPTC + "algorithmicMedia", False),
        (IPTC + "compositeSynthetic", False),
        (IPTC + "digitalCapture", False),
        ("", False),
    ],
)
def test_is_ai_source_type(value: str, expected: bool) -> None:
    assert is_ai_source_type(value) is expected


def test_explanations_fall_back_by_family_and_keep_the_library_words() -> None:
    assert explain("signingCredential.untrusted") == EXPLANATIONS["signingCredential.untrusted"]
    family = explain("timeStamp.somethingNew", "odd stamp")
    assert "time-stamp" in family and "odd stamp" in family
    generic = explain("brandNew.code", "detail")
    assert "brandNew.code" in generic and "detail" in generic
    for text in EXPLANATIONS.values():
        assert not re.search(r"\b(fake|real|proof)", text, re.IGNORECASE), text


def test_every_explanation_is_in_arabic_too() -> None:
    from photoloupe.i18n import catalogue
    from photoloupe.provenance.c2pa import STATUS_CODES

    ar = catalogue("ar")
    for code in STATUS_CODES:
        text = explain(code, lang="ar")
        assert text == ar[f"c2pa.status.{code}"] and text != EXPLANATIONS[code]
    # Unknown codes: the family's sentence and the library's own words, in Arabic.
    family = explain("timeStamp.somethingNew", "odd stamp", "ar")
    assert family.startswith(ar["c2pa.family.timeStamp"]) and "odd stamp" in family
    generic = explain("brandNew.code", "detail", "ar")
    assert "brandNew.code" in generic and "detail" in generic
    assert not re.search(r"[a-z]{4,}", ar["c2pa.family.assertion"])  # no English left in it


def test_garbage_never_raises() -> None:
    for data in (b"", b"\xff\xd8\xff", b"jumdc2pa" * 8, bytes(range(256)) * 4):
        info = read_c2pa(data, "image/jpeg")
        assert isinstance(info, C2paInfo)
        assert info.valid in (None, False)
