//! `kakin demo`: a realistic network and a month of key-chip logs, generated deterministically
//! from a seed, then every stage of kakin run on them with the embedded default.
//!
//! The generator is also the benchmarks' data source (`benches/`), so it is fast: millions of
//! rows a minute, streamed to the files delivery date by delivery date.

mod logs;
mod network;

use crate::app::{Context, Failure};
use chrono::{Datelike, Utc};
use pipeline::config::Settings;
use pipeline::domain::{Month, Parse};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// How many key-chips (cabinets) the network has.
    #[arg(long, default_value_t = 120)]
    keychips: usize,
    /// The month of logs, YYYY-MM (default: last month).
    #[arg(long, value_parser = parse_month)]
    month: Option<Month>,
    /// The seed of the generator: the same seed, key-chips and month give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the generated files go, and the demo's own database and lake (the embedded
    /// default under this directory, whatever is configured).
    #[arg(long, default_value = "var/demo")]
    dir: PathBuf,
    /// Only generate the files; run no stage.
    #[arg(long)]
    generate_only: bool,
}

fn parse_month(text: &str) -> Result<Month, String> {
    Month::parse(text).map_err(|e| e.0)
}

fn last_month() -> Month {
    let today = Utc::now().with_timezone(&chrono_tz_tokyo()).date_naive();
    Month::of(today.with_day(1).expect("every month has a first day")).previous()
}

fn chrono_tz_tokyo() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(9 * 3600).expect("+09:00 is an offset")
}

/// The demo never touches the configured database or lake: a demo started in a production
/// directory must not import its fake partners there. It runs on the embedded default under
/// its `--dir`.
pub async fn run(args: DemoArgs, wait: std::time::Duration) -> Result<(), Failure> {
    let month = args.month.unwrap_or_else(last_month);
    let network = network::Network::new(args.keychips, month, args.seed);
    let counts = generate(&network, &args.dir).map_err(anyhow::Error::from)?;
    println!(
        "generated {} partners, {} stores, {} key-chips and {} play and {} purchase rows of {month} in {}",
        network.partners.len(),
        network.stores.len(),
        network.keychips.len(),
        counts.plays,
        counts.purchases,
        args.dir.display()
    );
    if args.generate_only {
        return Ok(());
    }
    let context = &Context::open(Settings::embedded_under(&args.dir), wait).await?;
    let settings = &context.settings;
    crate::master::import_master(context, &args.dir.join("master")).await?;
    let slips = args.dir.join(network::adjustments_file(month));
    crate::master::import_adjustments(context, &slips).await?;
    let incoming = format!("file://{}", path(&args.dir.join("incoming")));
    crate::ingest::run_ingest(context, &incoming, None).await?;
    crate::close::close(context, month, Default::default()).await?;
    println!("database: {}", settings.database_url);
    println!("lake: {}", settings.lake_url);
    println!(
        "documents (請求書, 調整明細書, 支払通知書): {}/documents/closing_month={month}/<partner>/",
        settings.lake_url
    );
    println!(
        "emails (.eml, no SMTP server configured): {}",
        settings.outbox_dir
    );
    println!("key-chip logs delivered to: {incoming}");
    println!("next, on the demo's database and lake, for instance:");
    println!(
        "  export KAKIN_DATABASE_URL={} KAKIN_LAKE_URL={} KAKIN_INCOMING_URL={incoming}",
        settings.database_url, settings.lake_url
    );
    println!(
        "  kakin export billing --match 店舗名=駅前 -o billing.csv   (the site's 請求明細 CSV)"
    );
    println!("  kakin export totals --title SH4 --store S22900000000   (支払合計 of one store and title)");
    println!(
        "  kakin query \"SELECT partner_code, pay FROM payment_totals WHERE title_code IS NULL\""
    );
    println!(
        "  kakin close {} --dry-run                              (the next close, previewed)",
        month.next()
    );
    println!("  kakin verify                                          (every document against its SHA-256)");
    Ok(())
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Write the network's master data, adjustment slips and logs under `dir`.
pub fn generate(network: &network::Network, dir: &Path) -> std::io::Result<logs::Counts> {
    network.write(dir)?;
    logs::write(network, &dir.join("incoming"))
}
