"""The documents a caseworker can ask for, with labels in English and Traditional Chinese.

Names are snake_case identifiers; the catalogue gives known ones their labels (docs/rules.md §9.1)
and the checklist proposes the ones that fit an applicant's profile. Names outside the catalogue are
allowed (a caseworker may need something unusual) and are labelled from the name itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from states.labels import Bilingual

NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

CATALOGUE: dict[str, Bilingual] = {
    "identity_document": Bilingual(
        en="Identity or travel document (passport bio page)",
        zh_hk="身份證明或旅行證件（護照個人資料頁）",
    ),
    "photograph": Bilingual(en="Recent photograph", zh_hk="近照"),
    "academic_certificates": Bilingual(
        en="Academic certificates and transcripts", zh_hk="學歷證明及成績單"
    ),
    "degree_verification": Bilingual(en="Degree verification report", zh_hk="學位認證報告"),
    "professional_qualification": Bilingual(
        en="Professional qualification certificate", zh_hk="專業資格證明"
    ),
    "employment_proof": Bilingual(
        en="Employer reference letters and employment records", zh_hk="僱主推薦信及工作證明"
    ),
    "international_experience_proof": Bilingual(
        en="Proof of international work experience", zh_hk="國際工作經驗證明"
    ),
    "multinational_experience_proof": Bilingual(
        en="Proof of work at a multinational or renowned enterprise",
        zh_hk="跨國公司或知名企業工作證明",
    ),
    "sector_experience_proof": Bilingual(
        en="Proof of work in a specified sector", zh_hk="指定行業工作證明"
    ),
    "language_proof": Bilingual(en="Proof of language proficiency", zh_hk="語文能力證明"),
    "financial_proof": Bilingual(
        en="Proof of financial means (bank statements, assets)",
        zh_hk="財政能力證明（銀行結單、資產證明）",
    ),
    "income_proof": Bilingual(en="Proof of income in the preceding year", zh_hk="上一年度收入證明"),
    "business_proof": Bilingual(
        en="Proof of business ownership and profit", zh_hk="業務擁有權及利潤證明"
    ),
    "listed_company_proof": Bilingual(
        en="Proof of ownership of a listed company", zh_hk="擁有上市公司證明"
    ),
    "talent_list_proof": Bilingual(
        en="Proof of meeting a Talent List profession", zh_hk="符合人才清單專業的證明"
    ),
    "achievement_evidence": Bilingual(
        en="Evidence of exceptional achievement", zh_hk="傑出成就證明"
    ),
    "marriage_certificate": Bilingual(en="Marriage certificate", zh_hk="結婚證書"),
    "birth_certificate": Bilingual(
        en="Birth certificate of each dependent child", zh_hk="受養子女出生證明書"
    ),
    "spouse_degree": Bilingual(en="Spouse's degree certificate", zh_hk="配偶學位證明"),
    "hk_family_identity": Bilingual(
        en="Hong Kong permanent identity card of the family member",
        zh_hk="家庭成員的香港永久性居民身份證",
    ),
    "police_certificate": Bilingual(
        en="Police certificate (certificate of no criminal record)", zh_hk="無犯罪紀錄證明書"
    ),
    "mainland_consent_letter": Bilingual(
        en="Consent letter from the Mainland work unit or records authority",
        zh_hk="內地工作單位或檔案管理部門同意書",
    ),
    "certified_translation": Bilingual(
        en="Certified translation of documents not in Chinese or English",
        zh_hk="非中英文文件的核證譯本",
    ),
}


def label(name: str, language: str = "en") -> str:
    known = CATALOGUE.get(name)
    return known.text(language) if known else name.replace("_", " ").capitalize()


def checklist(
    profile: Mapping[str, Any],
    *,
    mainland_resident: bool,
    dependants: list[Mapping[str, Any]],
    after_quota: bool = False,
) -> list[str]:
    """The documents that fit this applicant, in the order a caseworker would ask for them."""
    items = ["identity_document", "photograph"]
    degrees = profile.get("degrees") or []
    if degrees:
        items.append("academic_certificates")
        if mainland_resident:
            items.append("degree_verification")
    if any(d.get("level") == "professional" for d in degrees):
        items.append("professional_qualification")
    work = profile.get("work") or {}
    if work.get("graduate_years"):
        items.append("employment_proof")
    for key, item in (
        ("international_years", "international_experience_proof"),
        ("multinational_years", "multinational_experience_proof"),
        ("specified_sector_years", "sector_experience_proof"),
    ):
        if work.get(key):
            items.append(item)
    languages = profile.get("languages") or {}
    if languages.get("chinese") or languages.get("english") or languages.get("others"):
        items.append("language_proof")
    items.append("financial_proof")
    if profile.get("income_hkd_last_year"):
        items.append("income_proof")
    if profile.get("business_profit_hkd"):
        items.append("business_proof")
    if profile.get("owns_listed_company"):
        items.append("listed_company_proof")
    if profile.get("talent_list"):
        items.append("talent_list_proof")
    if profile.get("test") == "achievement" or profile.get("achievement"):
        items.append("achievement_evidence")
    relations = {d.get("relation") for d in dependants}
    if "spouse" in relations:
        items.append("marriage_certificate")
    if "child" in relations:
        items.append("birth_certificate")
    family = profile.get("family") or {}
    if family.get("spouse_degree") and "spouse" in relations:  # counts only for a spouse who comes
        items.append("spouse_degree")
    if family.get("hk_permanent_resident_family"):
        items.append("hk_family_identity")
    if after_quota:
        items.append("police_certificate")
        if mainland_resident:
            items.append("mainland_consent_letter")
    return items
