//! The demo's key-chip logs: a month of plays and purchases as collectors deliver them, one
//! folder per delivery date, with what real deliveries carry besides good rows — cabinets that
//! report days late (some from the month before), a second collector re-delivering events (some
//! written in another offset), and bad rows of every quarantine reason of `feeds.md`.
//!
//! Every (key-chip, day) block of events comes from its own seeded generator, so a delivery
//! date can be written without holding the month in memory, and the files are the same bytes
//! for the same seed.

use super::network::{Keychip, Network, TITLES};
use chrono::{Datelike, Days, NaiveDate};
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::Path;

/// Data rows written, bad and duplicate ones included.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub plays: u64,
    pub purchases: u64,
}

const PLAYS_HEADER: &str = "event_id,keychip_id,played_at,title_code,charge_code,count\n";
const PURCHASES_HEADER: &str =
    "transaction_id,keychip_id,purchased_at,title_code,product_code,payment_method,quantity,unit_price\n";
/// The longest delay of a late cabinet, in days after the day after its events.
const MAX_DELAY: u64 = 6;
/// The delivery day (of the month) that carries the bad rows.
const BAD_ROWS_DAY: u64 = 11;

pub fn write(network: &Network, incoming: &Path) -> std::io::Result<Counts> {
    let mut counts = Counts::default();
    let last = network.month.last_day().day() as u64;
    for delivery_day in 2..=last + 1 + MAX_DELAY {
        let delivery = network.day(delivery_day);
        let mut files = Delivery::default();
        for (k, keychip) in network.keychips.iter().enumerate() {
            for day in blocks_delivered(network, k, delivery) {
                let block = Block::new(network, k, keychip, day);
                block.write(&mut files.plays_a, &mut files.purchases_a);
                if block.redelivered() {
                    block.write_redelivery(&mut files.plays_b, &mut files.purchases_b);
                }
            }
        }
        if delivery_day == BAD_ROWS_DAY {
            bad_rows(network, delivery, &mut files);
        }
        counts.plays += files.plays_a.rows + files.plays_b.rows + files.legacy.rows;
        counts.purchases += files.purchases_a.rows + files.purchases_b.rows;
        let gzip = delivery_day % 2 == 0;
        let plays = incoming.join("plays").join(delivery.to_string());
        let purchases = incoming.join("purchases").join(delivery.to_string());
        files
            .plays_a
            .save(&plays, "collector-a", PLAYS_HEADER, gzip)?;
        files
            .plays_b
            .save(&plays, "collector-b", PLAYS_HEADER, false)?;
        files
            .legacy
            .save(&plays, "legacy", "id,chip,at,title,charge,count\n", false)?;
        files
            .purchases_a
            .save(&purchases, "collector-a", PURCHASES_HEADER, gzip)?;
        files
            .purchases_b
            .save(&purchases, "collector-b", PURCHASES_HEADER, false)?;
    }
    Ok(counts)
}

#[derive(Default)]
struct Delivery {
    plays_a: File,
    plays_b: File,
    legacy: File,
    purchases_a: File,
    purchases_b: File,
}

/// One file's data rows, kept until the delivery is written.
#[derive(Default)]
struct File {
    body: Vec<u8>,
    rows: u64,
}

impl File {
    fn row(&mut self, args: std::fmt::Arguments) {
        self.body.write_fmt(args).expect("writing to memory");
        self.rows += 1;
    }

    fn save(&self, dir: &Path, name: &str, header: &str, gzip: bool) -> std::io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        std::fs::create_dir_all(dir)?;
        if gzip {
            let file = std::fs::File::create(dir.join(format!("{name}.csv.gz")))?;
            let mut gz = GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
            gz.write_all(header.as_bytes())?;
            gz.write_all(&self.body)?;
            gz.finish()?.flush()
        } else {
            let mut bytes = header.as_bytes().to_vec();
            bytes.extend_from_slice(&self.body);
            std::fs::write(dir.join(format!("{name}.csv")), bytes)
        }
    }
}

/// A number drawn from (seed, key-chip, day, purpose): decides lateness and re-delivery.
fn draw(network: &Network, k: usize, day: NaiveDate, purpose: u64) -> u64 {
    let mut x = network.seed ^ (k as u64) << 20 ^ (day.num_days_from_ce() as u64) << 40 ^ purpose;
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How many days after its day a block is delivered: the next day, or late (2 % of blocks;
/// the first three cabinets also report the last day of the previous month on the 3rd).
fn delay(network: &Network, k: usize, day: NaiveDate) -> u64 {
    if day < network.month.first_day() {
        return if k < 3 {
            (network.day(3) - day).num_days() as u64
        } else {
            0
        };
    }
    match draw(network, k, day, 1) % 100 {
        0 | 1 => 2 + draw(network, k, day, 2) % (MAX_DELAY - 1),
        _ => 1,
    }
}

/// The days of key-chip `k` whose blocks arrive on `delivery`.
fn blocks_delivered(network: &Network, k: usize, delivery: NaiveDate) -> Vec<NaiveDate> {
    let month = network.month;
    let previous_last = month.first_day().pred_opt().expect("a date");
    let mut days: Vec<NaiveDate> = (1..=MAX_DELAY)
        .filter_map(|back| delivery.checked_sub_days(Days::new(back)))
        .filter(|d| month.days().any(|m| m == *d) || *d == previous_last)
        .filter(|d| delay(network, k, *d) == (delivery - *d).num_days() as u64)
        .collect();
    days.sort();
    days
}

/// The events of one key-chip on one day.
struct Block<'a> {
    network: &'a Network,
    k: usize,
    keychip: &'a Keychip,
    day: NaiveDate,
}

impl<'a> Block<'a> {
    fn new(network: &'a Network, k: usize, keychip: &'a Keychip, day: NaiveDate) -> Self {
        Block {
            network,
            k,
            keychip,
            day,
        }
    }

    fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(draw(self.network, self.k, self.day, 3))
    }

    /// 1 % of blocks are delivered again by the second collector.
    fn redelivered(&self) -> bool {
        draw(self.network, self.k, self.day, 4).is_multiple_of(100)
    }

    fn write(&self, plays: &mut File, purchases: &mut File) {
        self.each_event(&mut |event| event.write(plays, purchases, false));
    }

    /// The same events again; every other one written in +09:00 (the same instants).
    fn write_redelivery(&self, plays: &mut File, purchases: &mut File) {
        let mut i = 0;
        self.each_event(&mut |event| {
            event.write(plays, purchases, i % 2 == 1);
            i += 1;
        });
    }

    fn each_event(&self, emit: &mut dyn FnMut(&Event)) {
        let mut rng = self.rng();
        let title = self.keychip.title;
        let p = self.keychip.popularity;
        let plays = rng.gen_range(p / 2..=p * 3 / 2).max(1);
        let purchases = if title.products.is_empty() {
            0
        } else {
            rng.gen_range(0..=p / 12)
        };
        let date = self.day.format("%Y%m%d").to_string();
        for i in 0..plays {
            let count = if title.stones {
                rng.gen_range(1..=200)
            } else {
                1
            };
            let second = second_of_day(&mut rng, i, plays);
            let id = format!("P{date}-{:06}-{i:04}", self.k);
            emit(&Event::Play {
                id,
                chip: &self.keychip.id,
                day: self.day,
                second,
                title: title.code,
                charge: title.charge,
                count,
            });
        }
        for i in 0..purchases {
            let product = &title.products[rng.gen_range(0..title.products.len())];
            let quantity = if rng.gen_range(0..10) == 0 {
                rng.gen_range(2..=4)
            } else {
                1
            };
            let second = second_of_day(&mut rng, i, purchases);
            let id = format!("T{date}-{:06}-{i:04}", self.k);
            emit(&Event::Purchase {
                id,
                chip: &self.keychip.id,
                day: self.day,
                second,
                title: title.code,
                product: product.code,
                method: product.method,
                quantity,
                price: product.price,
            });
        }
    }
}

/// Opening hours in JST: 10:00 to midnight, and a late crowd until 02:00 (the UTC date of
/// those is the day before: the business date is Japan's).
fn second_of_day(rng: &mut ChaCha8Rng, i: u32, n: u32) -> u32 {
    let slot = 16 * 3600 / n.max(1);
    let r = i * slot + rng.gen_range(0..slot.max(1));
    if r < 2 * 3600 {
        r
    } else {
        r + 8 * 3600
    }
}

enum Event<'a> {
    Play {
        id: String,
        chip: &'a str,
        day: NaiveDate,
        second: u32,
        title: &'a str,
        charge: &'a str,
        count: u32,
    },
    Purchase {
        id: String,
        chip: &'a str,
        day: NaiveDate,
        second: u32,
        title: &'a str,
        product: &'a str,
        method: &'a str,
        quantity: u32,
        price: i64,
    },
}

impl Event<'_> {
    fn write(&self, plays: &mut File, purchases: &mut File, jst: bool) {
        match self {
            Event::Play {
                id,
                chip,
                day,
                second,
                title,
                charge,
                count,
            } => {
                let at = Timestamp {
                    day: *day,
                    second: *second,
                    jst,
                };
                plays.row(format_args!("{id},{chip},{at},{title},{charge},{count}\n"));
            }
            Event::Purchase {
                id,
                chip,
                day,
                second,
                title,
                product,
                method,
                quantity,
                price,
            } => {
                let at = Timestamp {
                    day: *day,
                    second: *second,
                    jst,
                };
                purchases.row(format_args!(
                    "{id},{chip},{at},{title},{product},{method},{quantity},{price}\n"
                ));
            }
        }
    }
}

/// A JST second of a day, written in UTC (`Z`) or in `+09:00`.
struct Timestamp {
    day: NaiveDate,
    second: u32,
    jst: bool,
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (m, s) = (self.second / 60 % 60, self.second % 60);
        let hour = self.second / 3600;
        if self.jst {
            return write!(f, "{}T{hour:02}:{m:02}:{s:02}+09:00", self.day);
        }
        let (day, hour) = if hour < 9 {
            (self.day.pred_opt().expect("a date"), hour + 15)
        } else {
            (self.day, hour - 9)
        };
        write!(f, "{day}T{hour:02}:{m:02}:{s:02}Z")
    }
}

/// One row of each quarantine reason, and a file with a wrong header.
fn bad_rows(network: &Network, delivery: NaiveDate, files: &mut Delivery) {
    let sh4 = &network.keychips[0].id;
    let yesterday = delivery.pred_opt().expect("a date");
    let at = |day: NaiveDate| {
        Timestamp {
            day,
            second: 15 * 3600,
            jst: false,
        }
        .to_string()
    };
    let (noon, future) = (at(yesterday), at(delivery + Days::new(2)));
    let plays = &mut files.plays_b;
    plays.row(format_args!("BAD-P1,{sh4},{noon},SH4,SH4-STONE\n"));
    plays.row(format_args!("BAD-P2,{sh4},{noon},SH4,SH4-STONE,many\n"));
    plays.row(format_args!(
        "BAD-P3,{sh4},{yesterday} 12:00,SH4,SH4-STONE,10\n"
    ));
    plays.row(format_args!("BAD-P4,{sh4},{noon},SH4,SH4-STONE,0\n"));
    plays.row(format_args!(
        "BAD-P5,{},{noon},SH4,SH4-STONE,10\n",
        sh4.to_lowercase()
    ));
    plays.row(format_args!("BAD-P6,{sh4},{future},SH4,SH4-STONE,10\n"));
    plays.row(format_args!("BAD-P7,A72E9999999,{noon},SH4,SH4-STONE,10\n"));
    plays.row(format_args!("BAD-P8,{sh4},{noon},SH4,CHUNI-NET,1\n"));
    let first_event = format!("P{}-{:06}-0000", yesterday.format("%Y%m%d"), 0);
    plays.row(format_args!(
        "{first_event},{sh4},{noon},SH4,SH4-STONE,9999\n"
    ));
    let legacy = &mut files.legacy;
    for i in 0..3 {
        legacy.row(format_args!("LEGACY-{i},{sh4},{noon},SH4,SH4-STONE,5\n"));
    }
    let purchases = &mut files.purchases_b;
    let medal = &TITLES[0].products[1];
    purchases.row(format_args!(
        "BAD-T1,{sh4},{noon},SH4,{},EMONEY,1.5,{}\n",
        medal.code, medal.price
    ));
    purchases.row(format_args!(
        "BAD-T2,{sh4},{noon},SH4,{},CASH,1,{}\n",
        medal.code, medal.price
    ));
    purchases.row(format_args!(
        "BAD-T3,{sh4},{noon},SH4,SH4-NOPE,EMONEY,1,100\n"
    ));
    purchases.row(format_args!(
        "BAD-T4,{sh4},{noon},SH4,{},EMONEY,1,{}\n",
        medal.code,
        medal.price - 100
    ));
}
