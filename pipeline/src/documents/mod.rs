//! Documents (`lake.md`, "Documents"; `statements.md`, "請求書", "支払通知書"): the qualified
//! invoice (請求書), the adjustment statement (調整明細書) and the payment notice (支払通知書)
//! as PDFs, rendered with Typst from the templates in the repository's `templates/`.
//!
//! A renderer takes data and gives bytes: it knows neither the close nor the exports. Each
//! document's data ([`content`]) is plain text already formatted for people (yen with
//! separators, Japanese dates) and goes in as the virtual file `/data.json`, which the template
//! reads with `json(...)`: no partner, store or slip text is ever spliced into Typst source, so
//! none can change what a document does. The PDFs embed the font shipped in `data/fonts/`
//! (IPAexGothic), carry the issue date as their date, and are PDF/A-2b; the same data gives the
//! same bytes.

pub mod content;
mod world;

pub use content::{
    AdjustmentsContent, Header, InvoiceContent, InvoiceLineContent, NoticeItem, Party,
    PaymentNoticeContent, SlipContent, TaxContent,
};
pub use world::{Rendered, Renderer, BATCH};

use chrono::NaiveDate;

/// The templates, one per document (and the parts they share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    Invoice,
    Adjustments,
    PaymentNotice,
}

impl Template {
    pub const ALL: [Template; 3] = [
        Template::Invoice,
        Template::Adjustments,
        Template::PaymentNotice,
    ];

    /// The template's file, under `templates/`.
    pub fn file(self) -> &'static str {
        match self {
            Template::Invoice => "invoice.typ",
            Template::Adjustments => "adjustments.typ",
            Template::PaymentNotice => "payment-notice.typ",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Template::Invoice => include_str!("../../../templates/invoice.typ"),
            Template::Adjustments => include_str!("../../../templates/adjustments.typ"),
            Template::PaymentNotice => include_str!("../../../templates/payment-notice.typ"),
        }
    }
}

/// What the templates share: the page, the font, the issuer and partner blocks.
const COMMON: (&str, &str) = ("common.typ", include_str!("../../../templates/common.typ"));

/// One document to render: its template, its data, its file name in the lake and its issue
/// date (the PDF's date).
#[derive(Debug, Clone)]
pub struct Document {
    pub template: Template,
    pub file_name: String,
    pub issue_date: NaiveDate,
    /// The data, as JSON.
    pub data: Vec<u8>,
}

impl Document {
    pub fn new(
        template: Template,
        file_name: String,
        issue_date: NaiveDate,
        content: &impl serde::Serialize,
    ) -> Document {
        Document {
            template,
            file_name,
            issue_date,
            data: serde_json::to_vec(content).expect("document content serialises"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A template does not compile, or fails on this document's data.
    #[error("{file}: template {template}: {message}")]
    Template {
        file: String,
        template: &'static str,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pdf_text;

    fn party(name: &str) -> Party {
        Party {
            code: "229999000".into(),
            name: name.into(),
            registration_number: "T9234567890123".into(),
            registered_name: "-".into(),
        }
    }

    fn invoice(partner_name: &str, item: &str) -> Document {
        let content = InvoiceContent {
            header: Header {
                issuer: party("株式会社セガ"),
                partner: party(partner_name),
                issue_date: "2026年11月01日".into(),
                period: "2026年10月01日 〜 2026年10月31日".into(),
                reissue_of: None,
            },
            number: "1700000".into(),
            lines: vec![InvoiceLineContent {
                item: item.into(),
                charge: "年度更新プラン課金".into(),
                play_month: "2026年10月".into(),
                count: "1,461".into(),
                unit_price: "0.4".into(),
                amount: "584".into(),
                tax_rate: "10%".into(),
            }],
            taxes: vec![TaxContent {
                rate: "10%".into(),
                subtotal: "¥584".into(),
                tax: "¥58".into(),
            }],
            subtotal: "¥584".into(),
            tax: "¥58".into(),
            total: "¥642".into(),
            void_reason: None,
        };
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        Document::new(
            Template::Invoice,
            "invoice-1700000.pdf".into(),
            date,
            &content,
        )
    }

    fn render(document: Document) -> Vec<u8> {
        Renderer::new().render(&[document]).remove(0).unwrap()
    }

    /// Text as a reader finds it, spaces and line ends aside.
    fn squeezed(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn names_holding_typst_markup_or_formulas_are_shown_as_written() {
        let hostile = [
            r#"#panic("boom")"#,
            "*太字*_斜体_",
            "$x^2$",
            "] [ { } \\ // <b>",
            "=HYPERLINK(\"http://x\")",
            "#set page(fill: red)",
        ];
        let documents: Vec<Document> = hostile.iter().map(|h| invoice(h, h)).collect();
        let pdfs = Renderer::new().render(&documents);
        for (part, pdf) in hostile.iter().zip(pdfs) {
            let text = squeezed(&pdf_text(&pdf.unwrap()));
            assert_eq!(
                text.matches(&squeezed(part)).count(),
                2,
                "{part:?} in {text}"
            );
            assert!(text.contains("¥642"), "{text}");
        }
    }

    #[test]
    fn rare_kanji_circled_numbers_and_full_width_forms_are_in_the_embedded_font() {
        let rare = "髙﨑①㈱ＡＢＣ１２３（）～ー￥";
        let font = typst::text::Font::iter(typst::foundations::Bytes::new(world::FONT))
            .next()
            .unwrap();
        for c in rare.chars() {
            assert!(font.info().coverage.contains(c as u32), "no glyph for {c}");
        }
        let pdf = render(invoice(&format!("{rare}商事"), "髙島屋①"));
        let text = squeezed(&pdf_text(&pdf));
        assert!(text.contains(&format!("{rare}商事")), "{text}");
        assert!(text.contains("髙島屋①"), "{text}");
    }

    #[test]
    fn the_same_data_gives_the_same_bytes_and_other_data_other_bytes() {
        let first = render(invoice("株式会社テスト", "CHUNITHM"));
        let again = Renderer::new().render(&[invoice("株式会社テスト", "CHUNITHM")]);
        assert_eq!(first, *again[0].as_ref().unwrap());
        assert_ne!(first, render(invoice("株式会社テスト2", "CHUNITHM")));
        assert!(first.starts_with(b"%PDF-"));
    }

    #[test]
    fn a_document_s_pdf_is_titled_and_authored_though_its_template_sets_them_last() {
        let info = crate::testing::pdf_info(&render(invoice("株式会社テスト", "CHUNITHM")));
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(field("Title:"), "請求書 1700000", "{info}");
        assert_eq!(field("Author:"), "株式会社セガ", "{info}");
        assert_eq!(field("Pages:"), "1", "{info}");
    }

    fn with_lines(mut document: Document, count: usize) -> Document {
        let mut content: serde_json::Value = serde_json::from_slice(&document.data).unwrap();
        let line = content["lines"][0].clone();
        content["lines"] = serde_json::Value::Array(vec![line; count]);
        document.data = serde_json::to_vec(&content).unwrap();
        document
    }

    #[test]
    fn a_document_s_bytes_do_not_depend_on_the_documents_rendered_with_it() {
        let long = with_lines(invoice("長い請求書の取引先", "品名"), 90);
        let short = invoice("短い請求書の取引先", "品名");
        let together = Renderer::new().render(&[short.clone(), long.clone(), short.clone()]);
        let together: Vec<Vec<u8>> = together.into_iter().map(Result::unwrap).collect();
        assert!(together[0] == render(short.clone()), "the first alone");
        assert!(together[1] == render(long), "the second alone");
        assert!(together[2] == together[0], "the third as the first");
        let pages = squeezed(&pdf_text(&together[1]));
        assert!(pages.contains("株式会社セガ1/3"), "{pages}");
        assert!(pages.contains("株式会社セガ3/3"), "{pages}");
        assert!(!pages.contains("短い請求書"), "{pages}");
        let page = squeezed(&pdf_text(&together[2]));
        assert!(
            page.contains("株式会社セガ1/1") && !page.contains("長い"),
            "{page}"
        );
    }

    #[test]
    fn a_document_its_template_fails_on_is_named_and_spares_the_others() {
        let mut broken = invoice("壊れたデータ", "品名");
        broken.data = br#"{"header": {}}"#.to_vec();
        broken.file_name = "invoice-broken.pdf".into();
        let documents = [
            invoice("取引先A", "品名"),
            broken,
            invoice("取引先B", "品名"),
        ];
        let pdfs = Renderer::new().render(&documents);
        let error = pdfs[1].as_ref().unwrap_err().to_string();
        assert!(
            error.starts_with("invoice-broken.pdf: template invoice.typ"),
            "{error}"
        );
        for (pdf, name) in [(&pdfs[0], "取引先A"), (&pdfs[2], "取引先B")] {
            assert!(squeezed(&pdf_text(pdf.as_ref().unwrap())).contains(name));
        }
    }

    #[test]
    fn many_documents_render_in_order_across_batches() {
        let documents: Vec<Document> = (0..70)
            .map(|i| invoice(&format!("取引先{i:03}"), "品名"))
            .collect();
        let pdfs = Renderer::new().render(&documents);
        assert_eq!(pdfs.len(), 70);
        for (i, pdf) in pdfs.into_iter().enumerate().step_by(23) {
            let text = squeezed(&pdf_text(&pdf.unwrap()));
            assert!(
                text.contains(&format!("取引先{i:03}")),
                "document {i}: {text}"
            );
        }
    }
}
