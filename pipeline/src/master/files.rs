//! The files of a master data directory, each row parsed into its record.

use super::check::Check;
use super::{whole, Lines};
use crate::domain::*;
use crate::sheet::{Columns, Row, Sheet};
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::path::Path;

/// The rows of one import, by table.
#[derive(Default)]
pub(crate) struct Imported {
    pub partners: Lines<PartnerCode, Partner>,
    pub stores: Lines<StoreCode, Store>,
    pub titles: Lines<TitleCode, Title>,
    pub keychips: Lines<(KeychipId, NaiveDate), KeychipAssignment>,
    pub charges: Lines<(ChargeCode, NaiveDate), Charge>,
    pub products: Lines<(ProductCode, NaiveDate), Product>,
    pub rates: Lines<(RateName, NaiveDate), Rate>,
    /// (file, code) of rows that did not parse: their problem is reported once, and rows that
    /// refer to them are not reported again as referring to nothing.
    pub unparsed: BTreeSet<(String, String)>,
}

impl Imported {
    /// Whether `file` has a row for `code`, parsed or not.
    pub fn mentions(&self, file: &str, code: &str) -> bool {
        self.unparsed.contains(&(file.to_owned(), code.to_owned()))
    }
}

const FILES: &[&str] = &[
    "partners.csv",
    "stores.csv",
    "titles.csv",
    "keychips.csv",
    "charges.csv",
    "products.csv",
    "rates.csv",
];

/// Read every master data file in `dir`; problems go to `check`.
pub(crate) fn read_directory(dir: &Path, check: &mut Check) -> Imported {
    let mut imported = Imported::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            check.add(whole(
                &dir.display().to_string(),
                format!("cannot read the directory: {e}"),
            ));
            return imported;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names.iter().filter(|n| n.ends_with(".csv")) {
        if !FILES.contains(&name.as_str()) {
            check.add(whole(
                name,
                format!(
                    "not a master data file (expected one of {})",
                    FILES.join(", ")
                ),
            ));
            continue;
        }
        let bytes = match std::fs::read(dir.join(name)) {
            Ok(bytes) => bytes,
            Err(e) => {
                check.add(whole(name, format!("cannot read the file: {e}")));
                continue;
            }
        };
        read_file(name, &bytes, &mut imported, check);
    }
    imported
}

fn read_file(name: &str, bytes: &[u8], imported: &mut Imported, check: &mut Check) {
    let mut file = FileReader {
        name,
        bytes,
        unparsed: &mut imported.unparsed,
        check,
    };
    match name {
        "partners.csv" => file.read(
            PARTNERS,
            partner,
            |p| p.code.clone(),
            &mut imported.partners,
        ),
        "stores.csv" => file.read(STORES, store, |s| s.code.clone(), &mut imported.stores),
        "titles.csv" => file.read(TITLES, title, |t| t.code.clone(), &mut imported.titles),
        "keychips.csv" => file.read(
            KEYCHIPS,
            keychip,
            |k| (k.keychip.clone(), k.validity.from),
            &mut imported.keychips,
        ),
        "charges.csv" => file.read(
            CHARGES,
            charge,
            |c| (c.code.clone(), c.validity.from),
            &mut imported.charges,
        ),
        "products.csv" => file.read(
            PRODUCTS,
            product,
            |p| (p.code.clone(), p.validity.from),
            &mut imported.products,
        ),
        "rates.csv" => file.read(RATES, rate, |r| (r.name, r.valid_from), &mut imported.rates),
        _ => unreachable!("only the files of FILES are read"),
    }
}

/// One master data file being read.
struct FileReader<'a> {
    name: &'a str,
    bytes: &'a [u8],
    unparsed: &'a mut BTreeSet<(String, String)>,
    check: &'a mut Check,
}

impl FileReader<'_> {
    /// Read the rows into `into` by key; a key seen twice in the file is a problem. The code
    /// (first column) of a row that does not parse goes to `unparsed`.
    fn read<K: Ord + std::fmt::Debug, T>(
        &mut self,
        columns: Columns,
        parse: fn(&Row, &mut Check) -> Option<T>,
        key: fn(&T) -> K,
        into: &mut Lines<K, T>,
    ) {
        let sheet = match Sheet::read(self.name, self.bytes, &columns) {
            Ok(sheet) => sheet,
            Err(problems) => return self.check.extend(problems),
        };
        for row in sheet.rows() {
            let Some(row) = self.check.ok(row) else {
                continue;
            };
            let Some(record) = parse(&row, self.check) else {
                let code = row.text(columns.required[0]).to_owned();
                self.unparsed.insert((self.name.to_owned(), code));
                continue;
            };
            let k = key(&record);
            if let Some((first, _)) = into.get(&k) {
                let reason = format!("the key {k:?} already appears on line {first}");
                self.check.add(row.problem("-", reason));
                continue;
            }
            into.insert(k, (row.line(), record));
        }
    }
}

fn name(row: &Row, column: &str) -> Result<Text, Problem> {
    row.with(column, |t| Text::parse_bounded(t, 1, 100))
}

fn optional_name(row: &Row, column: &str) -> Result<Option<Text>, Problem> {
    row.with(column, |t| {
        if t.is_empty() {
            Ok(None)
        } else {
            Text::parse_bounded(t, 1, 100).map(Some)
        }
    })
}

const PARTNERS: Columns = Columns {
    required: &[
        "partner_code",
        "name",
        "registration_number",
        "email",
        "notify",
    ],
    optional: &["registered_name"],
};

fn partner(row: &Row, check: &mut Check) -> Option<Partner> {
    let code = check.ok(row.get("partner_code"));
    let name = check.ok(name(row, "name"));
    let registration_number = check.ok(row.optional("registration_number"));
    let email = check.ok(row.optional::<Email>("email"));
    let notify = check.ok(row.with("notify", parse_flag));
    let registered_name = check.ok(optional_name(row, "registered_name"));
    if notify == Some(true) && email == Some(None) {
        check.add(row.problem("email", "an email address is needed when notify is true"));
        return None;
    }
    Some(Partner {
        code: code?,
        name: name?,
        registration_number: registration_number?,
        email: email?,
        notify: notify?,
        registered_name: registered_name?,
    })
}

const STORES: Columns = Columns {
    required: &["store_code", "partner_code", "name"],
    optional: &[],
};

fn store(row: &Row, check: &mut Check) -> Option<Store> {
    let code = check.ok(row.get("store_code"));
    let partner = check.ok(row.get("partner_code"));
    let name = check.ok(name(row, "name"));
    Some(Store {
        code: code?,
        partner: partner?,
        name: name?,
    })
}

const TITLES: Columns = Columns {
    required: &["title_code", "name"],
    optional: &[],
};

fn title(row: &Row, check: &mut Check) -> Option<Title> {
    let code = check.ok(row.get("title_code"));
    let name = check.ok(name(row, "name"));
    Some(Title {
        code: code?,
        name: name?,
    })
}

const KEYCHIPS: Columns = Columns {
    required: &[
        "keychip_id",
        "store_code",
        "title_code",
        "valid_from",
        "valid_to",
    ],
    optional: &[],
};

fn keychip(row: &Row, check: &mut Check) -> Option<KeychipAssignment> {
    let keychip = check.ok(row.get("keychip_id"));
    let store = check.ok(row.get("store_code"));
    let title = check.ok(row.get("title_code"));
    let validity = check.validity(row);
    Some(KeychipAssignment {
        keychip: keychip?,
        store: store?,
        title: title?,
        validity: validity?,
    })
}

const CHARGES: Columns = Columns {
    required: &[
        "charge_code",
        "title_code",
        "kind",
        "item_name",
        "charge_name",
        "unit_price",
        "tax_rate",
        "valid_from",
        "valid_to",
    ],
    optional: &["allnet_class"],
};

fn charge(row: &Row, check: &mut Check) -> Option<Charge> {
    let code = check.ok(row.get("charge_code"));
    let title = check.ok(row.get("title_code"));
    let kind = check.ok(row.get("kind"));
    let item_name = check.ok(name(row, "item_name"));
    let charge_name = check.ok(name(row, "charge_name"));
    let unit_price = check.ok(row.get("unit_price"));
    let tax_rate = check.ok(row.get("tax_rate"));
    let validity = check.validity(row);
    let allnet_class = check.ok(row.with("allnet_class", |t| {
        if t.is_empty() {
            Ok(None)
        } else {
            Text::parse_bounded(t, 1, 40).map(Some)
        }
    }));
    Some(Charge {
        code: code?,
        title: title?,
        kind: kind?,
        item_name: item_name?,
        charge_name: charge_name?,
        unit_price: unit_price?,
        tax_rate: tax_rate?,
        validity: validity?,
        allnet_class: allnet_class?,
    })
}

const PRODUCTS: Columns = Columns {
    required: &[
        "product_code",
        "title_code",
        "product_name",
        "category",
        "settlement",
        "unit_price",
        "valid_from",
        "valid_to",
    ],
    optional: &[],
};

fn product(row: &Row, check: &mut Check) -> Option<Product> {
    let code = check.ok(row.get("product_code"));
    let title = check.ok(row.get("title_code"));
    let product_name = check.ok(name(row, "product_name"));
    let category = check.ok(name(row, "category"));
    let settlement = check.ok(row.get("settlement"));
    let unit_price = check.ok(row.with("unit_price", |t| match Yen::parse(t)? {
        Yen(price) if price > 0 => Ok(Yen(price)),
        _ => Err(ParseError::new(
            "a product's price is a whole number of yen above 0",
        )),
    }));
    let validity = check.validity(row);
    Some(Product {
        code: code?,
        title: title?,
        product_name: product_name?,
        category: category?,
        settlement: settlement?,
        unit_price: unit_price?,
        validity: validity?,
    })
}

const RATES: Columns = Columns {
    required: &["rate", "value", "valid_from"],
    optional: &[],
};

fn rate(row: &Row, check: &mut Check) -> Option<Rate> {
    let name = check.ok(row.get("rate"));
    let value = check.ok(row.get("value"));
    let valid_from = check.ok(row.with("valid_from", parse_date));
    Some(Rate {
        name: name?,
        value: value?,
        valid_from: valid_from?,
    })
}
