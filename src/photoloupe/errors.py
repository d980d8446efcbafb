"""Errors that reach the user as `{"error": {"code", "message"}}` and exit code 3."""

from __future__ import annotations


class PhotoloupeError(Exception):
    """Base class of every error photoloupe reports to a user.

    `code` is a stable, machine-readable identifier; `message` is plain language; `input`
    says which input it concerns when a command takes several ("original", "suspect").
    """

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, input: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.input = input
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InputError(PhotoloupeError):
    """The input cannot be analysed: unreadable, unsupported, too large or damaged."""

    code = "unreadable"


class EmptyFile(InputError):
    code = "empty_file"


class FileTooLarge(InputError):
    code = "file_too_large"


class TooManyPixels(InputError):
    code = "too_many_pixels"


class DecompressionBomb(InputError):
    code = "decompression_bomb"


class TruncatedFile(InputError):
    code = "truncated"


class UnsupportedFormat(InputError):
    code = "unsupported_format"


class DecodeTimeout(InputError):
    code = "decode_timeout"


class NotFound(InputError):
    code = "not_found"


class IndexFolderError(PhotoloupeError):
    """The archive index folder is missing, damaged, or written by another version."""

    code = "index_unreadable"
