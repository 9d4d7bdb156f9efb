//! What each document shows, as the templates read it from `/data.json`. Every field is text
//! already formatted by the domain's formatters (`¥37,642`, `12,345`, `0.4`, `2026年11月01日`):
//! JSON numbers would become floats in Typst, and the wording of figures is the domain's.

use serde::Serialize;

/// Who issues, or who receives, a document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Party {
    pub code: String,
    pub name: String,
    /// `T` + 13 digits, or empty when the party has none.
    pub registration_number: String,
    /// 登録名, or `-`.
    pub registered_name: String,
}

/// The head of every document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Header {
    pub issuer: Party,
    pub partner: Party,
    /// `2026年11月01日`.
    pub issue_date: String,
    /// The transactions' period: `2026年10月01日 〜 2026年10月31日`.
    pub period: String,
    /// 「請求書番号 N の再発行」 on a reissue's documents.
    pub reissue_of: Option<String>,
}

/// 請求書: a qualified invoice (適格請求書).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvoiceContent {
    pub header: Header,
    pub number: String,
    pub lines: Vec<InvoiceLineContent>,
    pub taxes: Vec<TaxContent>,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    /// A void notice's reason (the document is marked 無効).
    pub void_reason: Option<String>,
}

/// A line: a charge of a play month at a unit price, or a billed slip.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvoiceLineContent {
    pub item: String,
    pub charge: String,
    /// `2026年10月`, or the slip's number.
    pub play_month: String,
    pub count: String,
    pub unit_price: String,
    pub amount: String,
    /// `10%`.
    pub tax_rate: String,
}

/// A tax rate's subtotal and its tax, computed once per invoice.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TaxContent {
    pub rate: String,
    pub subtotal: String,
    pub tax: String,
}

/// 調整明細書: every billed slip with every field of 調整明細.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AdjustmentsContent {
    pub header: Header,
    pub invoice_number: String,
    /// 請求書発行月.
    pub issue_month: String,
    pub slips: Vec<SlipContent>,
    pub total: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlipContent {
    pub store_name: String,
    pub slip_no: String,
    pub item_no: String,
    pub item_name: String,
    pub keychip: String,
    /// 調整日: the adjusted month.
    pub adjusted_month: String,
    /// 振替予定日.
    pub transfer_date: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
    /// 明細適用.
    pub description: String,
}

/// 支払通知書: 支払合計 (the guide's 6-10 to 6-12) over all titles.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PaymentNoticeContent {
    pub header: Header,
    /// 集計対象期間: `2026年10月`.
    pub closing_month: String,
    /// お支払日.
    pub payment_date: String,
    /// The e-money processor whose notice part ③ is.
    pub processor: Party,
    /// A1 … G2, each with its label and note as the guide gives them.
    pub items: Vec<NoticeItem>,
    /// お支払合計金額.
    pub pay: NoticeItem,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NoticeItem {
    /// `A1` … `G2`, `PAY`.
    pub code: String,
    pub label: String,
    pub amount: String,
    pub note: String,
}
