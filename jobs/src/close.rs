//! Finance's month-end commands: `close` (with `--dry-run` and `--reissue`), `refresh`,
//! `invoice void` and `verify`. A close and a reissue send their emails after committing.

use crate::app::{ledgered, Context, Failure, Recorded};
use pipeline::close::{self, CloseReport, Overrides, RefreshReport, ReissueReport};
use pipeline::db::InvoiceRecord;
use pipeline::domain::{Month, Parse, PartnerCode, Yen};

impl Recorded for CloseReport {
    fn counts(&self) -> String {
        if self.already_closed {
            return format!("{} was already closed: nothing changed", self.month);
        }
        let paid = total(self.totals.values().map(|t| t.pay));
        let billed: i64 = self.invoices.iter().map(|i| i.total).sum();
        format!(
            "{} invoices ({billed} yen), {} payment statements ({paid} yen), {} documents",
            self.invoices.len(),
            self.totals.len(),
            self.documents.len()
        )
    }
}

fn print_invoice(invoice: &InvoiceRecord) {
    let replaces = invoice
        .replaces
        .as_ref()
        .map(|n| format!(" (請求書番号 {n} の再発行)"))
        .unwrap_or_default();
    let void = match &invoice.void_reason {
        Some(reason) => format!(" VOID: {reason}"),
        None => String::new(),
    };
    println!(
        "  請求書 {} {}: {} + tax {} = {} yen{replaces}{void}",
        invoice.invoice_no, invoice.partner_code, invoice.subtotal, invoice.tax, invoice.total
    );
}

/// `kakin close M`, also the demo's close step: prints each invoice and each partner's PAY.
pub async fn close(context: &Context, month: Month, overrides: Overrides) -> Result<(), Failure> {
    let (db, lake) = (&context.db, &context.lake);
    let settings = context.close_settings();
    let job = close::close_month(db, lake, &settings, month, overrides);
    let mut arguments = month.to_string();
    for (given, flag) in [
        (overrides.allow_empty, " --allow-empty"),
        (overrides.despite_failed_ingest, " --despite-failed-ingest"),
    ] {
        if given {
            arguments.push_str(flag);
        }
    }
    let report = ledgered(context, "close", &arguments, job).await?;
    if report.already_closed {
        println!("{month} is already closed; its invoices:");
    } else {
        println!("closed {month}: {}", report.counts());
    }
    report.invoices.iter().for_each(print_invoice);
    for (partner, totals) in &report.totals {
        println!("  支払合計 {partner}: お支払合計金額 {} yen", totals.pay);
    }
    crate::outbox::send(context).await
}

/// A sum of yen as printed (a sum past 64 bits says so rather than wrapping).
fn total(amounts: impl Iterator<Item = Yen>) -> String {
    Yen::sum(amounts).map_or_else(|_| "overflow".into(), |sum| sum.to_string())
}

fn figure(value: Option<Yen>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

fn change(now: Option<Yen>, before: Option<Yen>) -> String {
    match (now, before) {
        (None, None) => "-".into(),
        (now, before) => {
            let (now, before) = (now.unwrap_or_default(), before.unwrap_or_default());
            match now.checked_sub(before) {
                Ok(change) => format!("{:+}", change.0),
                Err(_) => "overflow".into(),
            }
        }
    }
}

/// `kakin close M --dry-run`: every partner's invoice total and PAY beside the previous close's.
pub async fn preview(context: &Context, month: Month) -> Result<(), Failure> {
    let (db, lake) = (&context.db, &context.lake);
    let settings = context.close_settings();
    let preview = close::preview_close(db, lake, &settings, month).await?;
    if preview.already_closed {
        println!("{month} is already closed; its invoices:");
        preview.invoices.iter().for_each(print_invoice);
        return Ok(());
    }
    for hazard in &preview.hazards {
        println!("WARNING: the close would be refused: {hazard}");
    }
    println!(
        "dry run of the close of {month} (nothing written, no number taken); previous close {}:",
        month.previous()
    );
    println!(
        "{:<12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
        "partner", "invoice", "previous", "change", "PAY", "previous", "change"
    );
    for row in &preview.rows {
        println!(
            "{:<12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
            row.partner.as_str(),
            figure(row.invoice_total),
            figure(row.previous_invoice_total),
            change(row.invoice_total, row.previous_invoice_total),
            figure(row.pay),
            figure(row.previous_pay),
            change(row.pay, row.previous_pay),
        );
    }
    let billed: i64 = preview.invoices.iter().map(|i| i.total).sum();
    println!(
        "{} invoices would be issued ({billed} yen)",
        preview.invoices.len()
    );
    Ok(())
}

impl Recorded for Vec<RefreshReport> {
    fn counts(&self) -> String {
        let months: Vec<String> = self
            .iter()
            .map(|r| format!("{} up to {}", r.month, r.until))
            .collect();
        format!("month to date of {}", months.join(", "))
    }
}

/// `kakin refresh`: the open months up to yesterday in Japan.
pub async fn refresh(context: &Context) -> Result<(), Failure> {
    let (db, lake) = (&context.db, &context.lake);
    let now = context.clock.now();
    let today = now.date_naive();
    let yesterday = pipeline::schedule::yesterday(&now);
    let settings = context.close_settings();
    let job = close::refresh(db, lake, &settings, yesterday);
    let reports = ledgered(context, "refresh", "", job).await?;
    if reports.is_empty() {
        println!("no open month has a day before {today} to refresh");
    }
    for report in &reports {
        let paid = total(report.totals.values().map(|t| t.pay));
        println!(
            "provisional {} up to {}: {} partners, お支払合計金額 {paid} yen in all",
            report.month,
            report.until,
            report.totals.len()
        );
    }
    Ok(())
}

impl Recorded for (Month, InvoiceRecord) {
    fn counts(&self) -> String {
        format!(
            "invoice {} of {} is {}",
            self.1.invoice_no, self.0, self.1.status
        )
    }
}

/// `kakin invoice void NUMBER --reason TEXT`.
pub async fn void(context: &Context, number: &str, reason: &str) -> Result<(), Failure> {
    let (db, lake) = (&context.db, &context.lake);
    let arguments = format!("{number} --reason {reason}");
    let settings = context.close_settings();
    let job = close::void_invoice(db, lake, &settings, number, reason);
    let (month, record) = ledgered(context, "invoice void", &arguments, job).await?;
    println!(
        "invoice {number} of the close of {month} is VOID ({}); reissue it with: kakin close {month} --reissue {}",
        record.void_reason.as_deref().unwrap_or_default(),
        record.partner_code
    );
    Ok(())
}

impl Recorded for ReissueReport {
    fn counts(&self) -> String {
        format!(
            "invoice {} replaces {}{}",
            self.invoice.invoice_no,
            self.replaces,
            if self.already_reissued {
                " (reissued before: nothing changed)"
            } else {
                ""
            }
        )
    }
}

/// `kakin close M --reissue PARTNER`.
pub async fn reissue(context: &Context, month: Month, partner: &str) -> Result<(), Failure> {
    let partner = PartnerCode::parse(partner).map_err(|e| Failure::Invalid(e.to_string()))?;
    let (db, lake) = (&context.db, &context.lake);
    let arguments = format!("{month} --reissue {partner}");
    let settings = context.close_settings();
    let job = close::reissue(db, lake, &settings, month, &partner);
    let report = ledgered(context, "close", &arguments, job).await?;
    println!("reissued for {partner} ({month}): {}", report.counts());
    print_invoice(&report.invoice);
    if let Some(totals) = &report.totals {
        println!("  支払合計 {partner}: お支払合計金額 {} yen", totals.pay);
    }
    crate::outbox::send(context).await
}

/// `kakin verify`: exits 1 when any document is missing or differs from what was issued.
pub async fn verify(context: &Context) -> Result<(), Failure> {
    let found = close::verify(&context.db, &context.lake).await?;
    for problem in &found.problems {
        println!("{problem}");
    }
    println!(
        "{} document(s) checked, {} problem(s)",
        found.checked,
        found.problems.len()
    );
    if found.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!(
            "{} document(s) differ from what was issued",
            found.problems.len()
        )))
    }
}
