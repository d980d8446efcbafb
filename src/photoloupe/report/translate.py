"""Kept for callers of photoloupe 0.4 and earlier: the catalogues now live in
`photoloupe.i18n` (below the renderers, since the verdict and compare write text too)."""

from photoloupe.i18n import LANGS, Lang, catalogue, t

__all__ = ["LANGS", "Lang", "catalogue", "t"]
