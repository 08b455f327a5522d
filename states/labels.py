"""One text in the two languages of the scheme's letters: English and Traditional Chinese.

The state, document, reason and payment-method catalogues each map a code to a `Bilingual`
(or a record built on it), so choosing the language is written once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Bilingual:
    en: str
    zh_hk: str

    def text(self, language: str = "en") -> str:
        """The text in ``language`` ("en" or "zh-HK"; anything else reads English)."""
        return self.zh_hk if language == "zh-HK" else self.en
