"""Kept for callers of photoloupe 0.4 and earlier: the models now live in
`photoloupe.schema.report` (the contract sits below the renderers)."""

from photoloupe.schema.report import *  # noqa: F403
