"""How a free-text feature is measured outside the model: by the words it holds.

A text column reaches the model raw (its TF-IDF terms are computed inside the ONNX graph),
but its reference profile, its reference sample and the monitor's windows see only its
word count, so drift in what people write (shorter notes, empty ones) is measured without
a sentence of the training data leaving the trainer. A word is a token as scikit-learn's
``TfidfVectorizer`` sees one by default: two or more word characters.
"""

from __future__ import annotations

import math
import re
from typing import Any

WORD = re.compile(r"(?u)\b\w\w+\b")
# Counts above this are not counts: the monitor stores a text it could not yet know was
# free text as a category code (a 48-bit hash), read back as missing.
MAX_WORDS = float(2**24)


def word_count(value: Any) -> float:
    """The words of one value; NaN when it is missing (None, NaN or the empty string)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    return float(len(WORD.findall(str(value))))
