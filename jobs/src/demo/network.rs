//! The demo's arcade network: partners, their stores, cabinets over three titles, charges,
//! products and rates — with a cabinet that changes store (and partner) mid-month and a price
//! change mid-month, as real networks have.

use chrono::{Days, NaiveDate};
use pipeline::domain::{Month, RegistrationNumber};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::path::Path;

pub struct Partner {
    pub code: String,
    pub name: String,
    pub registration_number: String,
    pub email: String,
    pub notify: bool,
}

pub struct Store {
    pub code: String,
    pub partner: usize,
    pub name: String,
}

/// A cabinet: its key-chip, title, and the stores that held it (from, to inclusive).
pub struct Keychip {
    pub id: String,
    pub title: &'static Title,
    pub holders: Vec<(usize, NaiveDate, Option<NaiveDate>)>,
    /// Mean plays per day: some cabinets are busier than others.
    pub popularity: u32,
}

pub struct Title {
    pub code: &'static str,
    pub name: &'static str,
    /// The charge each play carries, and how many counts a play has (stones used vary).
    pub charge: &'static str,
    pub stones: bool,
    pub products: &'static [ProductSpec],
}

pub struct ProductSpec {
    pub code: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub settlement: &'static str,
    pub price: i64,
    pub method: &'static str,
}

const fn product(
    code: &'static str,
    name: &'static str,
    category: &'static str,
    settlement: &'static str,
    price: i64,
    method: &'static str,
) -> ProductSpec {
    ProductSpec {
        code,
        name,
        category,
        settlement,
        price,
        method,
    }
}

pub static TITLES: [Title; 3] = [
    Title {
        code: "SH4",
        name: "StarHorse4",
        charge: "SH4-STONE",
        stones: true,
        products: &[
            product(
                "SH4-MEDAL100",
                "メダル100円(電子マネー)",
                "電子マネー購入分",
                "OPERATOR",
                100,
                "EMONEY",
            ),
            product(
                "SH4-MEDAL1000",
                "メダル1000円(電子マネー)",
                "電子マネー購入分",
                "OPERATOR",
                1000,
                "EMONEY",
            ),
            product(
                "SH4-MEDAL5000",
                "メダル5000円(電子マネー)",
                "電子マネー購入分",
                "OPERATOR",
                5000,
                "EMONEY",
            ),
            product(
                "SH4-MEDAL110-AP",
                "メダル110円(AimePay)",
                "AimePay購入分",
                "OPERATOR",
                110,
                "AIMEPAY",
            ),
            product(
                "SH4-MEDAL1000-AP",
                "メダル1000円(AimePay)",
                "AimePay購入分",
                "OPERATOR",
                1000,
                "AIMEPAY",
            ),
            product(
                "SH4-STONE500",
                "馬蹄石500個(電子マネー)",
                "馬蹄石購入分(電子マネー)",
                "PLATFORM",
                500,
                "EMONEY",
            ),
            product(
                "SH4-STONE200",
                "馬蹄石200個(電子マネー)",
                "馬蹄石購入分(電子マネー)",
                "PLATFORM",
                200,
                "EMONEY",
            ),
        ],
    },
    Title {
        code: "CHUNI",
        name: "CHUNITHM",
        charge: "CHUNI-NET",
        stones: false,
        products: &[product(
            "CHUNI-TICKET",
            "プレミアムチケット(電子マネー)",
            "チケット購入分(電子マネー)",
            "PLATFORM",
            300,
            "EMONEY",
        )],
    },
    Title {
        code: "MAIDX",
        name: "maimai DX",
        charge: "MAIDX-NET",
        stones: false,
        products: &[
            product(
                "MAIDX-CREDIT-AP",
                "クレジット110円(AimePay)",
                "AimePay購入分",
                "OPERATOR",
                110,
                "AIMEPAY",
            ),
            product(
                "MAIDX-CREDIT",
                "クレジット100円(電子マネー)",
                "電子マネー購入分",
                "OPERATOR",
                100,
                "EMONEY",
            ),
        ],
    },
];

/// The day of the month from which CHUNITHM's network charge costs more.
pub const PRICE_CHANGE_DAY: u64 = 16;
/// The day of the month on which the moving cabinet starts at its new store.
pub const MOVE_DAY: u64 = 15;

pub struct Network {
    pub month: Month,
    pub seed: u64,
    pub partners: Vec<Partner>,
    pub stores: Vec<Store>,
    pub keychips: Vec<Keychip>,
}

const SINCE: &str = "2020-01-01";

const COMPANY_WORDS: &[&str] = &[
    "アミューズ",
    "レジャー",
    "エンタープライズ",
    "ゲームズ",
    "プレイランド",
    "ファンタジー",
];
const PLACES: &[&str] = &["駅前店", "本店", "モール店", "中央店", "北口店", "港店"];

impl Network {
    pub fn new(keychips: usize, month: Month, seed: u64) -> Network {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let partner_count = (keychips / 5).clamp(2, 60);
        let partners: Vec<Partner> = (0..partner_count)
            .map(|i| {
                let word = COMPANY_WORDS[i % COMPANY_WORDS.len()];
                let body = format!("{:012}", 10_000_000_000 + i as u64 * 7_919);
                let registered = i % 4 != 3;
                Partner {
                    code: format!("{}", 229_000_000 + i * 1_000),
                    name: format!("株式会社{word}{:02}", i + 1),
                    registration_number: if registered {
                        RegistrationNumber::of_corporate_number(&body)
                            .expect("12 digits make a registration number")
                            .to_string()
                    } else {
                        String::new()
                    },
                    // Some have no address; some have one but did not ask for email.
                    email: if i % 6 == 2 {
                        String::new()
                    } else {
                        format!("billing{:02}@operator.example", i + 1)
                    },
                    notify: i % 3 != 2,
                }
            })
            .collect();
        let mut stores = Vec::new();
        for (p, partner) in partners.iter().enumerate() {
            for s in 0..1 + rng.gen_range(0..3) {
                stores.push(Store {
                    code: format!("S{}{s:02}", partner.code),
                    partner: p,
                    name: format!(
                        "{}{}",
                        partner.name.trim_start_matches("株式会社"),
                        PLACES[s % PLACES.len()]
                    ),
                });
            }
        }
        let since = NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date");
        let keychips = (0..keychips)
            .map(|i| Keychip {
                id: format!("A72E{i:07}"),
                title: &TITLES[i % TITLES.len()],
                holders: vec![(i % stores.len(), since, None)],
                popularity: rng.gen_range(20..180),
            })
            .collect();
        let mut network = Network {
            month,
            seed,
            partners,
            stores,
            keychips,
        };
        network.move_a_cabinet();
        network
    }

    /// Key-chip 1 (a CHUNITHM cabinet) moves to a store of another partner on MOVE_DAY.
    fn move_a_cabinet(&mut self) {
        let moved = self.day(MOVE_DAY);
        let Some(keychip) = self.keychips.get_mut(1) else {
            return;
        };
        let (store, since, _) = keychip.holders[0];
        let other = self
            .stores
            .iter()
            .position(|s| s.partner != self.stores[store].partner)
            .expect("a network has two partners");
        keychip.holders = vec![(store, since, moved.pred_opt()), (other, moved, None)];
    }

    /// The `n`-th day of the month (1-based).
    pub fn day(&self, n: u64) -> NaiveDate {
        self.month.first_day() + Days::new(n - 1)
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let master = dir.join("master");
        std::fs::create_dir_all(&master)?;
        let mut out = String::from("partner_code,name,registration_number,email,notify\n");
        for p in &self.partners {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                p.code, p.name, p.registration_number, p.email, p.notify
            );
        }
        std::fs::write(master.join("partners.csv"), &out)?;

        let mut out = String::from("store_code,partner_code,name\n");
        for s in &self.stores {
            let _ = writeln!(
                out,
                "{},{},{}",
                s.code, self.partners[s.partner].code, s.name
            );
        }
        std::fs::write(master.join("stores.csv"), &out)?;

        let mut out = String::from("title_code,name\n");
        for t in &TITLES {
            let _ = writeln!(out, "{},{}", t.code, t.name);
        }
        std::fs::write(master.join("titles.csv"), &out)?;

        let mut out = String::from("keychip_id,store_code,title_code,valid_from,valid_to\n");
        for k in &self.keychips {
            for (store, from, to) in &k.holders {
                let to = to.map(|d| d.to_string()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{},{},{},{from},{to}",
                    k.id, self.stores[*store].code, k.title.code
                );
            }
        }
        std::fs::write(master.join("keychips.csv"), &out)?;

        let change = self.day(PRICE_CHANGE_DAY);
        let before = change.pred_opt().expect("a date");
        let mut out = String::from(
            "charge_code,title_code,kind,item_name,charge_name,unit_price,tax_rate,valid_from,valid_to,allnet_class\n",
        );
        let _ = writeln!(
            out,
            "SH4-STONE,SH4,COMMISSION,馬蹄石,馬蹄石利用分,0.4,10,{SINCE},,"
        );
        let _ = writeln!(out, "CHUNI-NET,CHUNI,BILLING,CHUNITHMシリーズ,年度更新プラン課金,20,10,{SINCE},{before},P-ras");
        let _ = writeln!(
            out,
            "CHUNI-NET,CHUNI,BILLING,CHUNITHMシリーズ,年度更新プラン課金,22,10,{change},,P-ras"
        );
        let _ = writeln!(out, "MAIDX-NET,MAIDX,BILLING,maimaiシリーズ,ネットワーク利用料,12.5,10,{SINCE},,P-ras MULTI");
        std::fs::write(master.join("charges.csv"), &out)?;

        let mut out = String::from(
            "product_code,title_code,product_name,category,settlement,unit_price,valid_from,valid_to\n",
        );
        for t in &TITLES {
            for p in t.products {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{SINCE},",
                    p.code, t.code, p.name, p.category, p.settlement, p.price
                );
            }
        }
        std::fs::write(master.join("products.csv"), &out)?;

        let rates = "rate,value,valid_from\nAIMEPAY_FEE,5,2020-01-01\nEMONEY_FEE,3,2020-01-01\nCONSUMPTION_TAX,10,2019-10-01\n";
        std::fs::write(master.join("rates.csv"), rates)?;
        std::fs::write(dir.join(adjustments_file(self.month)), self.adjustments())
    }

    /// One slip of each kind: a tournament kit billed, a campaign contribution paid, a fee
    /// refunded.
    fn adjustments(&self) -> String {
        let store = &self.stores[0];
        let partner = &self.partners[store.partner].code;
        let transfer = self.month.next().first_day() + Days::new(6);
        let m = self.month;
        format!(
            "slip_no,partner_code,store_code,keychip_id,item_no,item_name,adjusted_month,transfer_date,quantity,unit_price,amount,kind,description\n\
             I620000,{partner},{code},,IT0001,WCCF店舗予選大会1KIT,{m},{transfer},1,25000,25000,BILLING,WCCF店舗予選大会1KIT\n\
             P620001,{partner},{code},,IT0002,キャンペーン協力金,{m},{transfer},2,5000,10000,PAYMENT,キャンペーン協力金\n\
             R620002,{partner},{code},{chip},IT0003,手数料返金,{m},{transfer},1,550,550,REFUND,決済手数料の返金\n",
            code = store.code,
            chip = self.keychips[0].id,
        )
    }
}

pub fn adjustments_file(month: Month) -> String {
    format!("adjustments-{month}.csv")
}
