"""The console's words in English and Traditional Chinese (Hong Kong).

One table, ``MESSAGES``: a key and its text in each language; ``t(key, lang, **values)``
formats it. States, documents, reasons and payment methods keep their own bilingual
catalogues (states.labels); this holds the console's own words. A key missing in a language
falls back to English, and a key missing altogether is shown as itself, so a page never
fails for want of a word (a test checks that every key has both languages).
"""

from __future__ import annotations

from typing import Any

from console.web.words import actions, audit, enquiry, work

_BASE: dict[str, dict[str, str]] = {
    "app.title": {"en": "QMAS case engine", "zh-HK": "優秀人才入境計劃個案系統"},
    "lang.switch": {"en": "中文", "zh-HK": "English"},
    "nav.work": {"en": "My work", "zh-HK": "我的工作"},
    "nav.committee": {"en": "Committee", "zh-HK": "委員會"},
    "nav.audit": {"en": "Audit", "zh-HK": "審計"},
    "nav.logout": {"en": "Log out", "zh-HK": "登出"},
    "nav.search": {"en": "Search", "zh-HK": "搜尋"},
    "search.placeholder": {
        "en": "File number, name or travel document number",
        "zh-HK": "檔案編號、姓名或旅行證件號碼",
    },
    "login.title": {"en": "Log in", "zh-HK": "登入"},
    "login.username": {"en": "Username", "zh-HK": "用戶名稱"},
    "login.password": {"en": "Password", "zh-HK": "密碼"},
    "login.submit": {"en": "Log in", "zh-HK": "登入"},
    "login.failed": {
        "en": "Wrong username or password.",
        "zh-HK": "用戶名稱或密碼不正確。",
    },
    "login.roles": {"en": "Signed in as {name} ({roles})", "zh-HK": "已登入：{name}（{roles}）"},
    "error.title": {"en": "Something needs your attention", "zh-HK": "請留意"},
    "error.csrf": {
        "en": "The form has expired or did not come from this site; reload the page and try again.",
        "zh-HK": "表格已過期或並非來自本網站；請重新載入頁面再試。",
    },
    "error.not_found": {"en": "Not found.", "zh-HK": "找不到。"},
    "error.forbidden": {"en": "Your account may not do this.", "zh-HK": "你的帳戶不可進行此操作。"},
    "error.too_many": {
        "en": "Too many attempts; wait a minute and try again.",
        "zh-HK": "嘗試次數過多；請稍候一分鐘再試。",
    },
    "error.internal": {
        "en": "Something went wrong on our side; nothing was changed that was not saved.",
        "zh-HK": "系統出錯；未儲存的內容沒有更改。",
    },
}

MESSAGES: dict[str, dict[str, str]] = {
    **_BASE,
    **work.MESSAGES,
    **actions.MESSAGES,
    **audit.MESSAGES,
    **enquiry.MESSAGES,
}


def t(key: str, lang: str = "en", **values: Any) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text
