//! Benchmark: documents per second for a close of N partners — kakin's renderer (the typst
//! crates as a library: one world, fonts and templates built once, every core, the memo cache
//! evicted between batches) against the `typst` CLI compiling the same templates with the same
//! data, one document per process — and the renderer's peak memory at each size.
//!
//!     cargo bench --workspace --bench documents -- [PARTNERS ...]   (default: 1000 5000)
//!
//! Each partner gets an invoice (six lines, two tax rates) and a payment notice, as a close
//! issues them. The CLI (`typst` on PATH, or `TYPST=…`; `cargo install typst-cli --version
//! 0.15.1`) compiles a sample of the first documents (`CLI_SAMPLE`, default 200) with the same
//! font (`--ignore-system-fonts --font-path data/fonts`), the same PDF/A-2b standard and the same
//! date. Each size runs in a child process of its own so that its peak RSS (VmHWM) is its own.

use pipeline::documents::*;

/// The allocator of the `kakin` binary, so that the renderer is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn party(name: String, code: String) -> Party {
    Party {
        code,
        name,
        registration_number: "T9234567890123".into(),
        registered_name: "-".into(),
    }
}

fn header(i: usize) -> Header {
    Header {
        issuer: party("株式会社セガ".into(), String::new()),
        partner: party(
            format!("株式会社アミューズ髙﨑{i:05}"),
            format!("{:09}", 229_000_000 + i),
        ),
        issue_date: "2026年11月01日".into(),
        period: "2026年10月01日 〜 2026年10月31日".into(),
        reissue_of: None,
    }
}

/// The documents of `partners` partners: an invoice and a payment notice each.
fn documents(partners: usize) -> Vec<Document> {
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut out = Vec::with_capacity(partners * 2);
    for i in 0..partners {
        let lines = (0..6)
            .map(|l| InvoiceLineContent {
                item: format!("CHUNITHMシリーズ{l}"),
                charge: "年度更新プラン課金".into(),
                play_month: "2026年10月".into(),
                count: format!("{}", 100 + i % 900 + l),
                unit_price: "20".into(),
                amount: format!("{},{:03}", 2 + l, i % 1000),
                tax_rate: if l == 5 { "8%".into() } else { "10%".into() },
            })
            .collect();
        let invoice = InvoiceContent {
            header: header(i),
            number: format!("{}", 1_700_000 + i),
            lines,
            taxes: vec![
                TaxContent {
                    rate: "10%".into(),
                    subtotal: "¥34,220".into(),
                    tax: "¥3,422".into(),
                },
                TaxContent {
                    rate: "8%".into(),
                    subtotal: "¥7,000".into(),
                    tax: "¥560".into(),
                },
            ],
            subtotal: "¥41,220".into(),
            tax: "¥3,982".into(),
            total: "¥45,202".into(),
            void_reason: None,
        };
        out.push(Document::new(
            Template::Invoice,
            format!("invoice-{i}.pdf"),
            date,
            &invoice,
        ));
        let item = |code: &str, label: &str, amount: String| NoticeItem {
            code: code.into(),
            label: label.into(),
            amount,
            note: String::new(),
        };
        let codes = [
            "A1", "A2", "B1", "B2", "B3", "B4", "C1", "D1", "E1", "F1", "F2", "F3", "F4", "G1",
            "G2",
        ];
        let notice = PaymentNoticeContent {
            header: header(i),
            closing_month: "2026年10月".into(),
            payment_date: "2026年11月25日".into(),
            processor: party("TOPPANエッジ・ペイメント株式会社".into(), String::new()),
            items: codes
                .iter()
                .map(|c| {
                    item(
                        c,
                        &format!("({c}) 項目"),
                        format!("{},{:03}", i % 97, i % 1000),
                    )
                })
                .collect(),
            pay: item(
                "PAY",
                "お支払合計金額(A1 + B1 - B4 - F3 + G1)",
                format!("{i},188"),
            ),
        };
        out.push(Document::new(
            Template::PaymentNotice,
            format!("notice-{i}.pdf"),
            date,
            &notice,
        ));
    }
    out
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// In the child: render every document of `partners` partners, print seconds and peak RSS.
fn child(partners: usize) {
    let documents = documents(partners);
    let started = Instant::now();
    let renderer = Renderer::new();
    // As the close does: each batch's PDFs leave memory before the next batch is rendered.
    let mut bytes = 0;
    for batch in documents.chunks(BATCH) {
        for pdf in renderer.render(batch) {
            bytes += pdf.expect("every document renders").len();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{} {seconds} {} {bytes}", documents.len(), peak_rss_kib());
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The CLI on the first `sample` documents, one process each: seconds per document.
fn cli(documents: &[Document], sample: usize) -> Option<f64> {
    let typst = std::env::var("TYPST").unwrap_or_else(|_| "typst".into());
    if Command::new(&typst).arg("--version").output().is_err() {
        eprintln!(
            "no typst CLI ({typst}): install it with cargo install typst-cli --version 0.15.1"
        );
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let templates = root().join("templates");
    let fonts = root().join("data/fonts");
    let mut jobs = Vec::new();
    for (i, document) in documents.iter().take(sample).enumerate() {
        let dir = work.path().join(format!("doc-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&templates).unwrap() {
            let entry = entry.unwrap();
            std::fs::hard_link(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        std::fs::write(dir.join("data.json"), &document.data).unwrap();
        jobs.push((dir, document.template.file()));
    }
    let started = Instant::now();
    for (dir, template) in &jobs {
        let status = Command::new(&typst)
            .args(["compile", "--root"])
            .arg(dir)
            .args(["--ignore-system-fonts", "--font-path"])
            .arg(&fonts)
            .args([
                "--pdf-standard",
                "a-2b",
                "--creation-timestamp",
                "1793491200",
            ])
            .arg(dir.join(template))
            .arg(dir.join("out.pdf"))
            .status()
            .unwrap();
        assert!(status.success(), "typst compile {}", dir.display());
    }
    Some(started.elapsed().as_secs_f64() / jobs.len() as f64)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [flag, partners] = &args[..] {
        if flag == "--child" {
            return child(partners.parse().unwrap());
        }
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1000, 5000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("PARTNERS is a number"))
            .collect()
    };
    println!("{}", pipeline::testing::machine());
    let me = std::env::current_exe().unwrap();
    let mut per_second = 0.0;
    for partners in &sizes {
        let out = Command::new(&me)
            .args(["--child", &partners.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<f64> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        let (count, seconds, rss, bytes) = (fields[0], fields[1], fields[2], fields[3]);
        per_second = count / seconds;
        println!(
            "kakin: {partners} partners, {count} documents ({:.0} KiB each) in {seconds:.2} s: {per_second:.0} documents/s, peak RSS {:.0} MiB",
            bytes / count / 1024.0,
            rss / 1024.0
        );
    }
    let sample: usize = std::env::var("CLI_SAMPLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    if let Some(each) = cli(&documents(sample.div_ceil(2)), sample) {
        println!(
            "typst CLI: {sample} documents, one process each: {:.0} documents/s ({:.0} ms each)",
            1.0 / each,
            each * 1000.0
        );
        println!("ratio: kakin is {:.1}x the CLI", per_second * each);
    }
}
