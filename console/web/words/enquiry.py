"""The console's words for enquiry pages (console/web/i18n.py merges them).

The stage of an application in plain words for the applicant (``enquiry.stage.<state>``) and
what happens next (``enquiry.next.<state>``), one pair per state of `states.catalogue.State`
(a test checks that none is missing). They say only what the scheme does; no promised dates.
"""

from __future__ import annotations

_STAGES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "draft": (
        {
            "en": "The application has not been submitted yet.",
            "zh-HK": "申請尚未遞交。",
        },
        {
            "en": "Once the application is submitted, it will be given a file number.",
            "zh-HK": "申請遞交後，會獲發一個檔案編號。",
        },
    ),
    "submitted": (
        {
            "en": "We have received the application.",
            "zh-HK": "我們已收到申請。",
        },
        {
            "en": "We will issue a file number to the applicant and any dependants.",
            "zh-HK": "我們會向申請人及其受養人發出檔案編號。",
        },
    ),
    "file_number_issued": (
        {
            "en": "The application has a file number and is being assessed.",
            "zh-HK": "申請已獲發檔案編號，正在評估中。",
        },
        {
            "en": "We will write if we need documents, and again when there is a decision "
            "on the selection exercise.",
            "zh-HK": "如需要文件，我們會來信通知；甄選結果有決定時亦會再來信。",
        },
    ),
    "documents_requested": (
        {
            "en": "We have asked for documents and are waiting for them.",
            "zh-HK": "我們已要求提交文件，正等待收件。",
        },
        {
            "en": "Please send the documents listed below by their due dates. The application "
            "may lapse if they do not reach us in time.",
            "zh-HK": "請於限期前提交下列文件。如未能及時收到文件，申請可能失效。",
        },
    ),
    "shortlisted": (
        {
            "en": "The application has been shortlisted for the selection exercise.",
            "zh-HK": "申請已入選甄選程序。",
        },
        {
            "en": "The Advisory Committee will consider the application; we will write with "
            "the result.",
            "zh-HK": "諮詢委員會將考慮有關申請；我們會來信通知結果。",
        },
    ),
    "quota_allotted": (
        {
            "en": "The application has been allotted a quota (approval-in-principle).",
            "zh-HK": "申請已獲分配名額（原則上批准）。",
        },
        {
            "en": "Pay the visa fee by the date shown below. A Mainland resident also needs "
            "the consent of the Mainland authorities first.",
            "zh-HK": "請於下列日期前繳付簽證費。內地居民須先取得內地當局的同意。",
        },
    ),
    "mainland_consent": (
        {
            "en": "We have recorded the Mainland authorities' consent.",
            "zh-HK": "我們已記錄內地當局的同意。",
        },
        {
            "en": "Pay the visa fee by the date shown below.",
            "zh-HK": "請於下列日期前繳付簽證費。",
        },
    ),
    "fee_paid": (
        {
            "en": "We have received the visa fee.",
            "zh-HK": "我們已收到簽證費。",
        },
        {
            "en": "We will issue the e-Visa and write when it is ready.",
            "zh-HK": "我們會簽發電子簽證，並於辦妥後來信通知。",
        },
    ),
    "evisa_issued": (
        {
            "en": "The e-Visa has been issued.",
            "zh-HK": "電子簽證已經簽發。",
        },
        {
            "en": "Nothing more is needed for this application. Follow the e-Visa's "
            "instructions when you travel to Hong Kong.",
            "zh-HK": "此申請無須再辦理其他手續。前來香港時請依照電子簽證上的指示。",
        },
    ),
    "refused": (
        {
            "en": "The application has been refused.",
            "zh-HK": "申請不獲批准。",
        },
        {
            "en": "The application is closed; our letter gave the reason.",
            "zh-HK": "申請已經結束；我們的信件已說明原因。",
        },
    ),
    "withdrawn": (
        {
            "en": "The application has been withdrawn.",
            "zh-HK": "申請已經撤回。",
        },
        {
            "en": "The application is closed; nothing more will happen on it.",
            "zh-HK": "申請已經結束，不會再有進一步處理。",
        },
    ),
    "lapsed": (
        {
            "en": "The application has lapsed because a deadline passed.",
            "zh-HK": "由於已過限期，申請已經失效。",
        },
        {
            "en": "The application is closed; nothing more will happen on it.",
            "zh-HK": "申請已經結束，不會再有進一步處理。",
        },
    ),
}

MESSAGES: dict[str, dict[str, str]] = {
    "enquiry.title": {"en": "Application status enquiry", "zh-HK": "申請狀況查詢"},
    "enquiry.intro": {
        "en": "Enter the file number from our letters and the date of birth of the person it "
        "belongs to.",
        "zh-HK": "請輸入我們信件上的檔案編號，以及該檔案持有人的出生日期。",
    },
    "enquiry.file_number": {"en": "File number", "zh-HK": "檔案編號"},
    "enquiry.file_number_hint": {"en": "e.g. QM2023-000001", "zh-HK": "例如 QM2023-000001"},
    "enquiry.date_of_birth": {
        "en": "Date of birth (YYYY-MM-DD)",
        "zh-HK": "出生日期（年年年年-月月-日日）",
    },
    "enquiry.submit": {"en": "Check the status", "zh-HK": "查詢狀況"},
    "enquiry.not_found": {
        "en": "We could not find an application with this file number and date of birth. "
        "Check both and try again.",
        "zh-HK": "找不到與此檔案編號及出生日期相符的申請。請核對後再試。",
    },
    "enquiry.result": {"en": "File {file_number}", "zh-HK": "檔案 {file_number}"},
    "enquiry.stage": {"en": "Stage", "zh-HK": "階段"},
    "enquiry.since": {"en": "Since {date}", "zh-HK": "自{date}起"},
    "enquiry.next": {"en": "What happens next", "zh-HK": "下一步"},
    "enquiry.documents": {"en": "Documents we are waiting for", "zh-HK": "尚待提交的文件"},
    "enquiry.document": {"en": "Document", "zh-HK": "文件"},
    "enquiry.due": {"en": "Due by", "zh-HK": "限期"},
    "enquiry.fee": {
        "en": "Visa fee {amount}, to be paid by {date}.",
        "zh-HK": "簽證費 {amount}，須於{date}或之前繳付。",
    },
    "enquiry.pay_by": {"en": "To be paid by {date}.", "zh-HK": "須於{date}或之前繳付。"},
    "enquiry.another": {"en": "Check another file", "zh-HK": "查詢另一個檔案"},
    "enquiry.privacy": {
        "en": "This page shows only the stage of the application, never personal details.",
        "zh-HK": "本頁只顯示申請的階段，不會顯示任何個人資料。",
    },
    **{f"enquiry.stage.{state}": words for state, (words, _) in _STAGES.items()},
    **{f"enquiry.next.{state}": words for state, (_, words) in _STAGES.items()},
}
