//! The columns of every statement table (`lake.md`, "Statement tables"), declared once: the
//! close writes its tables with [`StatementTable::columns`] and the exports read them by the
//! names of [`col`], so a column renamed here is renamed for both.

use super::layout::StatementTable;
use super::table::Kind::{self, Date, Decimal, Int, Text};
use crate::domain::{PaymentTotals, Rates};

/// A column: its name, its kind, and whether it may be null.
pub type Column = (&'static str, Kind, bool);

/// The names of the statement tables' columns.
pub mod col {
    pub const ISSUE_DATE: &str = "issue_date";
    pub const PARTNER_CODE: &str = "partner_code";
    pub const PARTNER_NAME: &str = "partner_name";
    pub const STORE_CODE: &str = "store_code";
    pub const STORE_NAME: &str = "store_name";
    pub const PLAY_MONTH: &str = "play_month";
    pub const PLAY_DATE: &str = "play_date";
    pub const KEYCHIP_ID: &str = "keychip_id";
    pub const TITLE_CODE: &str = "title_code";
    pub const TITLE_NAME: &str = "title_name";
    pub const CHARGE_CODE: &str = "charge_code";
    pub const ALLNET_CLASS: &str = "allnet_class";
    pub const ITEM_NAME: &str = "item_name";
    pub const CHARGE_NAME: &str = "charge_name";
    pub const PRODUCT_CODE: &str = "product_code";
    pub const PRODUCT_NAME: &str = "product_name";
    pub const CATEGORY: &str = "category";
    pub const PAYMENT_METHOD: &str = "payment_method";
    pub const COUNT: &str = "count";
    pub const UNIT_PRICE: &str = "unit_price";
    pub const AMOUNT: &str = "amount";
    pub const REFUND_UNIT_PRICE: &str = "refund_unit_price";
    pub const REFUND_AMOUNT: &str = "refund_amount";
    pub const INVOICE_NO: &str = "invoice_no";
    pub const SLIP_NO: &str = "slip_no";
    pub const ITEM_NO: &str = "item_no";
    pub const ADJUSTED_MONTH: &str = "adjusted_month";
    pub const TRANSFER_DATE: &str = "transfer_date";
    pub const QUANTITY: &str = "quantity";
    pub const KIND: &str = "kind";
    pub const DESCRIPTION: &str = "description";
    pub const REGISTRATION_NUMBER: &str = "registration_number";
    pub const REGISTERED_NAME: &str = "registered_name";
    pub const PAYMENT_DATE: &str = "payment_date";
    pub const SUBTOTAL: &str = "subtotal";
    pub const TAX: &str = "tax";
    pub const TAX_RATE: &str = "tax_rate";
    pub const TOTAL: &str = "total";
    pub const STATUS: &str = "status";
    pub const REPLACES: &str = "replaces";
    pub const VOID_REASON: &str = "void_reason";
    pub const DOCUMENT: &str = "document";
    pub const DOCUMENT_SHA256: &str = "document_sha256";
    pub const PAY: &str = "pay";
}

use col::*;

/// Where and when a detail row was played: the partner, the store, the month, the key-chip.
pub const PLACE: [Column; 6] = [
    (PARTNER_CODE, Text, false),
    (PARTNER_NAME, Text, false),
    (STORE_CODE, Text, false),
    (STORE_NAME, Text, false),
    (PLAY_MONTH, Text, false),
    (KEYCHIP_ID, Text, false),
];

/// 請求明細's columns between the issue date and its place, and its figures.
pub const BILLING_CHARGE: [Column; 5] = [
    (TITLE_CODE, Text, false),
    (CHARGE_CODE, Text, false),
    (ALLNET_CLASS, Text, true),
    (ITEM_NAME, Text, false),
    (CHARGE_NAME, Text, false),
];

/// 請求明細's figures (a day's, in the daily table).
pub const BILLING_FIGURES: [Column; 4] = [
    (COUNT, Int, false),
    (UNIT_PRICE, Decimal, false),
    (AMOUNT, Int, false),
    (INVOICE_NO, Text, true),
];

/// What 支払明細 and 参考情報 name after the place: the title and the product.
pub const PRODUCT: [Column; 4] = [
    (TITLE_CODE, Text, false),
    (TITLE_NAME, Text, false),
    (PRODUCT_NAME, Text, false),
    (CATEGORY, Text, false),
];

/// 支払明細's codes after [`PLACE`] and [`PRODUCT`].
pub const PAYMENT_CODES: [Column; 3] = [
    (CHARGE_CODE, Text, true),
    (PRODUCT_CODE, Text, true),
    (PAYMENT_METHOD, Text, true),
];

pub const PAYMENT_FIGURES: [Column; 5] = [
    (COUNT, Int, false),
    (UNIT_PRICE, Decimal, true),
    (AMOUNT, Int, true),
    (REFUND_UNIT_PRICE, Decimal, false),
    (REFUND_AMOUNT, Int, false),
];

/// 参考情報's code after [`PLACE`] and [`PRODUCT`].
pub const REFERENCE_CODES: [Column; 1] = [(PRODUCT_CODE, Text, false)];

pub const REFERENCE_FIGURES: [Column; 3] = [
    (COUNT, Int, false),
    (UNIT_PRICE, Decimal, false),
    (AMOUNT, Int, false),
];

/// The day a daily table's figures are of.
pub const DAY: [Column; 1] = [(PLAY_DATE, Date, false)];

pub const ADJUSTMENTS: [Column; 16] = [
    (SLIP_NO, Text, false),
    (PARTNER_CODE, Text, false),
    (PARTNER_NAME, Text, false),
    (STORE_CODE, Text, false),
    (STORE_NAME, Text, false),
    (KEYCHIP_ID, Text, true),
    (ITEM_NO, Text, false),
    (ITEM_NAME, Text, false),
    (ADJUSTED_MONTH, Text, false),
    (TRANSFER_DATE, Date, false),
    (QUANTITY, Int, false),
    (UNIT_PRICE, Int, false),
    (AMOUNT, Int, false),
    (KIND, Text, false),
    (DESCRIPTION, Text, false),
    (INVOICE_NO, Text, true),
];

/// `payment_totals`' columns before the items A1 … PAY.
pub const TOTALS_LEADING: [Column; 5] = [
    (PARTNER_CODE, Text, false),
    (PARTNER_NAME, Text, false),
    (REGISTRATION_NUMBER, Text, true),
    (REGISTERED_NAME, Text, true),
    (TITLE_CODE, Text, true),
];

pub const INVOICES: [Column; 12] = [
    (INVOICE_NO, Text, false),
    (ISSUE_DATE, Date, false),
    (PARTNER_CODE, Text, false),
    (PARTNER_NAME, Text, false),
    (SUBTOTAL, Int, false),
    (TAX, Int, false),
    (TOTAL, Int, false),
    (STATUS, Text, false),
    (REPLACES, Text, true),
    (VOID_REASON, Text, true),
    (DOCUMENT, Text, true),
    (DOCUMENT_SHA256, Text, true),
];

pub const INVOICE_TAXES: [Column; 4] = [
    (INVOICE_NO, Text, false),
    (TAX_RATE, Decimal, false),
    (SUBTOTAL, Int, false),
    (TAX, Int, false),
];

/// The column of a 支払合計 item (`A1` → `a1`, `PAY` → `pay`).
pub fn item_column(label: &str) -> String {
    label.to_lowercase()
}

impl StatementTable {
    /// The table's columns in the order the close writes them.
    pub fn columns(self) -> Vec<(String, Kind, bool)> {
        use StatementTable::*;
        let issue = [(ISSUE_DATE, Date, false)];
        let billing = [&issue[..], &PLACE, &BILLING_CHARGE].concat();
        let payment = [&PLACE[..], &PRODUCT, &PAYMENT_CODES].concat();
        let reference = [&PLACE[..], &PRODUCT, &REFERENCE_CODES].concat();
        let fixed: Vec<Column> = match self {
            BillingDetails => [&billing[..], &BILLING_FIGURES].concat(),
            BillingDaily => [&billing[..], &DAY, &BILLING_FIGURES].concat(),
            Adjustments => ADJUSTMENTS.to_vec(),
            PaymentDetails => [&payment[..], &PAYMENT_FIGURES].concat(),
            PaymentDaily => [&payment[..], &DAY, &PAYMENT_FIGURES].concat(),
            ReferenceInfo => [&reference[..], &REFERENCE_FIGURES].concat(),
            ReferenceDaily => [&reference[..], &DAY, &REFERENCE_FIGURES].concat(),
            PaymentTotals => return totals_columns(),
            Invoices => INVOICES.to_vec(),
            InvoiceTaxes => INVOICE_TAXES.to_vec(),
        };
        fixed
            .into_iter()
            .map(|(name, kind, nullable)| (name.to_owned(), kind, nullable))
            .collect()
    }
}

/// `payment_totals`: who, the items A1 … PAY, the payment date, and the rates the close used.
fn totals_columns() -> Vec<(String, Kind, bool)> {
    let leading = TOTALS_LEADING
        .iter()
        .map(|&(name, kind, nullable)| (name.to_owned(), kind, nullable));
    let items = PaymentTotals::default()
        .items()
        .map(|(label, _)| (item_column(label), Int, false));
    let rates = Rates::default()
        .items()
        .map(|(name, _)| (name.to_owned(), Decimal, false));
    leading
        .chain(items)
        .chain([(PAYMENT_DATE.to_owned(), Date, false)])
        .chain(rates)
        .collect()
}
