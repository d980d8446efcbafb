"""Kept for callers of photoloupe 0.4 and earlier: the models now live in
`photoloupe.schema.compare` (the contract sits below the renderers)."""

from photoloupe.schema.compare import *  # noqa: F403
