"""JPEG compression history: double compression, blocking grids, ghosts and quantisation tables.

A JPEG stores each 8x8 block of pixels as DCT coefficients divided by a step from a quantisation
table and rounded. Editing a JPEG and saving it again leaves traces of the first compression in
the parts that were not edited; a pasted area usually lacks them or carries other ones. Four
analyses read those traces; each is a function `Context -> Finding`, one module each:

`analyse_double_compression` -- aligned double JPEG compression (DQ), after Bianchi & Piva,
    "Image forgery localization via block-grained analysis of JPEG artifacts", IEEE TIFS 7(3),
    2012. The exact decoded luma plane is transformed back to the DCT domain of the last JPEG's
    grid, where each coefficient divided by its step q2 is (nearly) an integer. If the picture
    was compressed before with step q1 on the same grid, the histogram of those integers is
    periodically modulated (empty or crowded bins). Per low/mid frequency, q1 is estimated by
    fitting a mixture of a single-compression model and a double-compression model. The
    single-compression model comes from "calibration": the DCT of the luma shifted by 4 pixels,
    which no JPEG grid touched, quantised with q2; the double model quantises the same
    calibrated coefficients with q1, then (with a small rounding noise) with q2. Each block then
    gets a log-likelihood ratio "single (this block was not compressed before) vs double",
    summed over the usable frequencies and smoothed over neighbouring blocks.
`analyse_jpeg_grid` -- non-aligned double compression / block-artefact grid (in the spirit of
    Li, Yuan & Yu, "Passive detection of doctored JPEG image via block artifact grid
    extraction", Signal Processing 89(9), 2009): the second-order differences of the gradient
    peak on the 8x8 block borders. The dominant phase of that grid is found for the whole
    picture, then per 64x64 window; windows whose grid sits at another offset (or is missing
    where the rest has a strong one) are bright.
`analyse_ghosts` -- JPEG ghosts (Farid, "Exposing digital forgeries from JPEG ghosts", IEEE
    TIFS 4(1), 2009): recompressing at a quality near the one an area was saved at before
    changes that area least. The recompression is simulated in the DCT domain of the picture's
    own grid (by Parseval's theorem, the squared pixel error of an aligned re-save equals the
    squared coefficient error, up to the final rounding to 8 bits); areas whose difference
    curve dips at a quality where the rest of the picture does not are bright.
`estimate_quality_and_identify_tables` -- the IJG quality estimate and identification of the
    quantisation tables against a small library (qtables.json) of the standard IJG tables and
    of camera tables observed in the development corpus (see training/build_qtable_library.py).

Limits: the DQ analysis sees only a first compression on the same 8x8 grid with steps that
differ from the last ones (a second save at a lower quality over a high-quality first save is
often undetectable); recompression, resizing or heavy filtering after the edit removes all
these traces. No finding here is, on its own, evidence of editing: `evidence_of` is left to the
fusion module.
"""

from photoloupe.forensics.jpeg.double_compression import analyse_double_compression
from photoloupe.forensics.jpeg.ghosts import analyse_ghosts
from photoloupe.forensics.jpeg.grid import analyse_jpeg_grid
from photoloupe.forensics.jpeg.tables import estimate_quality_and_identify_tables

__all__ = [
    "analyse_double_compression",
    "analyse_ghosts",
    "analyse_jpeg_grid",
    "estimate_quality_and_identify_tables",
]
