"""The console's words for actions pages (console/web/i18n.py merges them).

Triggers, roles and the fields of each trigger's input (``field.<path>``, the path of the field
in the trigger's input model, `workflows.inputs`); states, documents and reasons keep their own
catalogues.
"""

from __future__ import annotations

_TRIGGERS: dict[str, dict[str, str]] = {
    "trigger.submit": {"en": "Lodge the application", "zh-HK": "遞交申請"},
    "trigger.issue_file_number": {"en": "Issue file numbers", "zh-HK": "發出檔案編號"},
    "trigger.request_documents": {"en": "Request documents", "zh-HK": "要求補交文件"},
    "trigger.receive_documents": {"en": "Receive documents", "zh-HK": "接收文件"},
    "trigger.shortlist": {"en": "Shortlist", "zh-HK": "列入候選名單"},
    "trigger.allot_quota": {"en": "Allot quota", "zh-HK": "分配名額"},
    "trigger.record_mainland_consent": {
        "en": "Record the Mainland consent letter",
        "zh-HK": "記錄內地同意書",
    },
    "trigger.pay_fee": {"en": "Record fee payment", "zh-HK": "記錄繳費"},
    "trigger.issue_evisa": {"en": "Issue the e-Visa", "zh-HK": "簽發電子簽證"},
    "trigger.refuse": {"en": "Refuse", "zh-HK": "拒絕申請"},
    "trigger.withdraw": {"en": "Withdraw", "zh-HK": "撤回申請"},
    "trigger.lapse": {"en": "Lapse (deadline passed)", "zh-HK": "失效（已過限期）"},
    "trigger.record_documents": {
        "en": "Record partial receipt of documents",
        "zh-HK": "記錄已收部分文件",
    },
    "trigger.amend": {"en": "Amend contact details", "zh-HK": "修改聯絡資料"},
    "trigger.note": {"en": "Add a note", "zh-HK": "加入備註"},
}

_ROLES: dict[str, dict[str, str]] = {
    "role.applicant": {
        "en": "Applicant (recorded by a caseworker)",
        "zh-HK": "申請人（由個案主任記錄）",
    },
    "role.caseworker": {"en": "Caseworker", "zh-HK": "個案主任"},
    "role.supervisor": {"en": "Supervisor", "zh-HK": "督導主任"},
    "role.committee": {"en": "Committee", "zh-HK": "委員會"},
    "role.auditor": {"en": "Auditor", "zh-HK": "審計員"},
}

_FIELDS: dict[str, dict[str, str]] = {
    "field.role": {"en": "Acting as", "zh-HK": "身份"},
    "field.reason_code": {"en": "Reason (from the catalogue)", "zh-HK": "原因（目錄）"},
    "field.reason": {"en": "Reason (the applicant reads it)", "zh-HK": "原因（申請人會看到）"},
    "field.note": {"en": "Internal note", "zh-HK": "內部備註"},
    "field.documents": {"en": "Documents to request", "zh-HK": "要求的文件"},
    "field.due": {"en": "Due date (blank: 20 working days)", "zh-HK": "限期（留空：20個工作天）"},
    "field.received": {"en": "Received", "zh-HK": "已收到"},
    "field.waived": {"en": "Waived (give the reason)", "zh-HK": "豁免（請註明原因）"},
    "field.consent_letter": {
        "en": "Consent letter (issuer and reference)",
        "zh-HK": "同意書（簽發機構及編號）",
    },
    "field.amount": {"en": "Amount paid (HK$)", "zh-HK": "已繳金額（港元）"},
    "field.method": {"en": "Payment method", "zh-HK": "付款方式"},
    "field.lodged_on": {"en": "Lodged on (blank: today)", "zh-HK": "遞交日期（留空：今日）"},
    "field.application_fee.amount": {
        "en": "Application fee paid (HK$)",
        "zh-HK": "已繳申請費（港元）",
    },
    "field.application_fee.method": {"en": "Application fee method", "zh-HK": "申請費付款方式"},
    "field.applicant.email": {"en": "Applicant's email", "zh-HK": "申請人電郵"},
    "field.applicant.language": {"en": "Language of letters", "zh-HK": "信件語言"},
    "field.applicant.representative.name": {"en": "Representative's name", "zh-HK": "代表姓名"},
    "field.applicant.representative.email": {"en": "Representative's email", "zh-HK": "代表電郵"},
    "field.applicant.representative.clear": {
        "en": "Remove the representative",
        "zh-HK": "刪除代表",
    },
}

_PAGES: dict[str, dict[str, str]] = {
    "actions.title": {"en": "Actions on {case}", "zh-HK": "{case} 的操作"},
    "actions.as_role": {"en": "As {role}", "zh-HK": "以{role}身份"},
    "actions.allowed": {"en": "Can do now", "zh-HK": "現可進行"},
    "actions.blocked": {"en": "Not now", "zh-HK": "暫不可進行"},
    "actions.other_roles": {"en": "Not for this role", "zh-HK": "此身份不適用"},
    "actions.none": {
        "en": "Nothing can be done in this role now.",
        "zh-HK": "此身份現時無可進行的操作。",
    },
    "actions.to_state": {"en": "leads to: {state}", "zh-HK": "結果：{state}"},
    "actions.state": {
        "en": "State: {state} (version {version})",
        "zh-HK": "狀態：{state}（版本 {version}）",
    },
    "actions.back_to_case": {"en": "Back to the case", "zh-HK": "返回個案"},
    "actions.all_actions": {"en": "All actions", "zh-HK": "所有操作"},
    "actions.corrections": {"en": "Corrections", "zh-HK": "更正"},
    "form.title": {"en": "{trigger}: {case}", "zh-HK": "{trigger}：{case}"},
    "form.preview": {"en": "Preview", "zh-HK": "預覽"},
    "form.choose": {"en": "(choose)", "zh-HK": "（請選擇）"},
    "form.unchanged": {"en": "(unchanged)", "zh-HK": "（不變）"},
    "form.none_outstanding": {"en": "No document is outstanding.", "zh-HK": "沒有尚欠的文件。"},
    "preview.title": {"en": "Check before you confirm", "zh-HK": "確認前請檢查"},
    "preview.move": {
        "en": "This will move the case from {from_state} to {to_state}.",
        "zh-HK": "個案將由「{from_state}」轉為「{to_state}」。",
    },
    "preview.stay": {
        "en": "The case stays {state}; its history gets one row.",
        "zh-HK": "個案維持「{state}」；歷史紀錄新增一行。",
    },
    "preview.emails.one": {
        "en": "This will send 1 email in {language}:",
        "zh-HK": "將以{language}發出 1 封電郵：",
    },
    "preview.emails.many": {
        "en": "This will send {count} emails in {language}:",
        "zh-HK": "將以{language}發出 {count} 封電郵：",
    },
    "preview.no_email": {"en": "No email will be sent.", "zh-HK": "不會發出電郵。"},
    "preview.email_line": {"en": "to {to}: “{subject}”", "zh-HK": "致 {to}：「{subject}」"},
    "preview.deadline.documents": {
        "en": "Set the due date for documents to {date}.",
        "zh-HK": "把補交文件限期定為{date}。",
    },
    "preview.deadline.fee_payment": {
        "en": "Set the fee payment deadline to {date}.",
        "zh-HK": "把繳費限期定為{date}。",
    },
    "preview.deadline.deadline": {
        "en": "Set the deadline to {date}.",
        "zh-HK": "把限期定為{date}。",
    },
    "preview.document": {"en": "{document}: {status}", "zh-HK": "{document}：{status}"},
    "preview.document_due": {
        "en": "{document}: {status}, due {date}",
        "zh-HK": "{document}：{status}，限期{date}",
    },
    "preview.fee_due": {"en": "Fee due afterwards: {amount}.", "zh-HK": "其後應繳費用：{amount}。"},
    "preview.version": {
        "en": "Previewed at version {version}: if someone moves the case first, "
        "nothing is written.",
        "zh-HK": "預覽時版本為 {version}：如有其他人先更改個案，系統不會寫入。",
    },
    "preview.confirm": {"en": "Confirm", "zh-HK": "確認"},
    "preview.edit": {"en": "Change", "zh-HK": "修改"},
    "preview.role": {"en": "Acting as: {role}", "zh-HK": "身份：{role}"},
    "doc.status.requested": {"en": "requested", "zh-HK": "已要求"},
    "doc.status.received": {"en": "received", "zh-HK": "已收到"},
    "doc.status.waived": {"en": "waived", "zh-HK": "已豁免"},
    "lang.name.en": {"en": "English", "zh-HK": "英文"},
    "lang.name.zh-HK": {"en": "Chinese", "zh-HK": "中文"},
    "actions.done": {
        "en": "Done: {trigger}. The case is now {state}.",
        "zh-HK": "已完成：{trigger}。個案現為「{state}」。",
    },
    "actions.conflict": {
        "en": "Someone else moved this case: it is now {state} (version {version}). "
        "Nothing was written; check the case and preview again.",
        "zh-HK": "其他人已更改此個案：現為「{state}」（版本 {version}）。"
        "系統沒有寫入；請查看個案後再預覽。",
    },
    "actions.refused": {"en": "This cannot be done now:", "zh-HK": "現時不可進行："},
    "committee.title": {"en": "Shortlisted pool", "zh-HK": "候選名單"},
    "committee.empty": {"en": "No case is shortlisted.", "zh-HK": "沒有已入選的個案。"},
    "committee.file_number": {"en": "File number", "zh-HK": "檔案編號"},
    "committee.name": {"en": "Name", "zh-HK": "姓名"},
    "committee.test": {"en": "Test", "zh-HK": "測試"},
    "committee.score": {"en": "Score", "zh-HK": "分數"},
    "committee.pass_mark": {"en": "Pass mark", "zh-HK": "及格分數"},
    "committee.since": {"en": "Shortlisted on", "zh-HK": "入選日期"},
    "committee.allot": {"en": "Allot quota", "zh-HK": "分配名額"},
}

MESSAGES: dict[str, dict[str, str]] = {**_TRIGGERS, **_ROLES, **_FIELDS, **_PAGES}
