//! What an email says: the subject `【ALL.Net】請求書発行のお知らせ（2026年10月分）`, a plain
//! Japanese body with the closing month, the invoice number and total, the amount to be paid
//! and its date, and the names of the attached PDFs.

use crate::db::NewEmail;
use crate::domain::{japanese_date, japanese_month, Month, Yen};
use chrono::NaiveDate;

/// What a partner is told about one close (or reissue) of its statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub partner_code: String,
    pub partner_name: String,
    /// The partner's address, as the master data holds it (already parsed there).
    pub recipient: String,
    pub month: Month,
    pub invoice_no: Option<String>,
    pub invoice_total: Option<Yen>,
    pub pay: Option<Yen>,
    pub payment_date: NaiveDate,
    /// The voided invoice a reissue replaces.
    pub replaces: Option<String>,
    /// The lake paths of the documents attached.
    pub attachments: Vec<String>,
    /// Who signs: the platform.
    pub issuer_name: String,
}

/// The Message-ID of the email announcing `month`'s statements to `partner`: by its invoice
/// number, or `notice` when it has only a payment notice; a resend adds its ordinal.
pub fn message_id(
    partner: &str,
    month: Month,
    invoice_no: Option<&str>,
    resend: Option<i64>,
    domain: &str,
) -> String {
    let what = invoice_no.unwrap_or("notice");
    let copy = resend.map(|n| format!(".resend-{n}")).unwrap_or_default();
    format!("<kakin.{partner}.{month}.{what}{copy}@{domain}>")
}

/// The email of `announcement`, ready to queue (`domain` names the Message-ID's right side).
pub fn compose(announcement: &Announcement, domain: &str) -> NewEmail {
    let a = announcement;
    let month = japanese_month(a.month);
    let what = match a.invoice_no {
        Some(_) => "請求書",
        None => "支払通知書",
    };
    let mut body = format!(
        "{} 御中\n\nいつもALL.Netをご利用いただきありがとうございます。\n\
         {month}分の{what}を発行しましたのでお知らせいたします。\n\n",
        a.partner_name
    );
    let mut line = |label: &str, value: String| body.push_str(&format!("{label}: {value}\n"));
    line("集計対象期間", month.clone());
    if let Some(replaces) = &a.replaces {
        line("再発行", format!("請求書番号 {replaces} の再発行"));
    }
    if let Some(number) = &a.invoice_no {
        line("請求書番号", number.clone());
    }
    if let Some(total) = a.invoice_total {
        line("ご請求金額（税込）", total.with_mark());
    }
    if let Some(pay) = a.pay {
        line("お支払合計金額", pay.with_mark());
        line("お支払日", japanese_date(a.payment_date));
    }
    body.push_str("\n添付ファイル:\n");
    for path in &a.attachments {
        let name = path.rsplit('/').next().unwrap_or(path);
        body.push_str(&format!("  {name}\n"));
    }
    body.push_str(&format!(
        "\n明細は請求サイトでもご確認いただけます。\n\
         本メールは送信専用です。お問い合わせは返信先のアドレスまでお願いいたします。\n\n{}\n",
        a.issuer_name
    ));
    NewEmail {
        message_id: message_id(
            &a.partner_code,
            a.month,
            a.invoice_no.as_deref(),
            None,
            domain,
        ),
        month: a.month,
        partner_code: a.partner_code.clone(),
        invoice_no: a.invoice_no.clone(),
        recipient: a.recipient.clone(),
        subject: format!("【ALL.Net】{what}発行のお知らせ（{month}分）"),
        body,
        attachments: a.attachments.clone(),
        resend_of: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Parse;

    #[test]
    fn the_email_names_the_month_the_invoice_and_the_payment() {
        let announcement = Announcement {
            partner_code: "229999000".into(),
            partner_name: "株式会社セガアミューズメント".into(),
            recipient: "billing@sega-amusement.example".into(),
            month: Month::parse("2023-05").unwrap(),
            invoice_no: Some("1700000".into()),
            invoice_total: Some(Yen(37_642)),
            pay: Some(Yen(83_188)),
            payment_date: NaiveDate::from_ymd_opt(2023, 6, 25).unwrap(),
            replaces: None,
            attachments: vec![
                "documents/closing_month=2023-05/229999000/invoice-1700000.pdf".into(),
            ],
            issuer_name: "株式会社セガ".into(),
        };
        let email = compose(&announcement, "example.invalid");
        assert_eq!(
            email.subject,
            "【ALL.Net】請求書発行のお知らせ（2023年05月分）"
        );
        assert_eq!(
            email.message_id,
            "<kakin.229999000.2023-05.1700000@example.invalid>"
        );
        for shown in [
            "請求書番号: 1700000",
            "¥37,642",
            "¥83,188",
            "2023年06月25日",
            "  invoice-1700000.pdf",
        ] {
            assert!(email.body.contains(shown), "{shown:?} in {}", email.body);
        }
        let notice_only = Announcement {
            invoice_no: None,
            invoice_total: None,
            ..announcement
        };
        let email = compose(&notice_only, "example.invalid");
        assert_eq!(
            email.subject,
            "【ALL.Net】支払通知書発行のお知らせ（2023年05月分）"
        );
        assert_eq!(
            email.message_id,
            "<kakin.229999000.2023-05.notice@example.invalid>"
        );
        assert_ne!(
            message_id(
                "229999000",
                notice_only.month,
                Some("1700000"),
                Some(1),
                "x"
            ),
            message_id("229999000", notice_only.month, Some("1700000"), None, "x")
        );
    }
}
