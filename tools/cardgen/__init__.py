"""Generator of fictitious resident ID cards for tests and benchmarks (see ``python -m tools.cardgen``).

Test code composes cards at test time with :func:`render_front` (e.g. with a face photo as the
portrait); it needs a CJK font, found by :func:`find_cjk_fonts` (skip the test when it is empty).
"""

from tools.cardgen.distort import Distortion, distort, distort_jpeg, random_distortion, telegram_recompress
from tools.cardgen.identities import RARE_NAME_CHARS, CardIdentity, random_identity, with_rare_name
from tools.cardgen.render import (
    CARD_MM,
    CLASSIC,
    DESIGNS,
    PORTRAIT_BOX_MM,
    SERIF,
    TEMPLATE,
    CardDesign,
    CardFont,
    find_cjk_fonts,
    render_back,
    render_front,
    synthetic_portrait,
)

__all__ = [
    "CARD_MM",
    "CLASSIC",
    "DESIGNS",
    "PORTRAIT_BOX_MM",
    "RARE_NAME_CHARS",
    "SERIF",
    "TEMPLATE",
    "CardDesign",
    "CardFont",
    "CardIdentity",
    "Distortion",
    "distort",
    "distort_jpeg",
    "find_cjk_fonts",
    "random_distortion",
    "random_identity",
    "render_back",
    "render_front",
    "synthetic_portrait",
    "telegram_recompress",
    "with_rare_name",
]
