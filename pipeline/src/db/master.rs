//! Master data, adjustment slips and closes as stored: read whole, written as upserts by key.

use super::{bind_all, optional, text, Cell, Cells, Database, DbResult};
use crate::domain::*;
use sqlx::{Any, Transaction};

/// How a record is stored: its table, key columns and cells, in column order.
trait Stored {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
    const KEY: usize;
    fn cells(&self) -> Vec<Cell>;
}

macro_rules! stored {
    ($type:ty, $table:literal, key $key:literal, [$($column:literal),+], |$r:ident| [$($cell:expr),+]) => {
        impl Stored for $type {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$($column),+];
            const KEY: usize = $key;
            fn cells(&self) -> Vec<Cell> {
                let $r = self;
                vec![$($cell),+]
            }
        }
    };
}

stored!(Partner, "partners", key 1,
    ["partner_code", "name", "registration_number", "email", "notify", "registered_name"],
    |p| [text(&p.code), text(&p.name), optional(p.registration_number.as_ref()),
         optional(p.email.as_ref().map(Email::as_str)), Cell::Int(i64::from(p.notify)),
         optional(p.registered_name.as_ref())]);
stored!(Store, "stores", key 1, ["store_code", "partner_code", "name"],
    |s| [text(&s.code), text(&s.partner), text(&s.name)]);
stored!(Title, "titles", key 1, ["title_code", "name"], |t| [text(&t.code), text(&t.name)]);
stored!(KeychipAssignment, "keychips", key 2,
    ["keychip_id", "valid_from", "store_code", "title_code", "valid_to"],
    |k| [text(&k.keychip), text(k.validity.from), text(&k.store), text(&k.title),
         optional(k.validity.to)]);
stored!(Charge, "charges", key 2,
    ["charge_code", "valid_from", "title_code", "kind", "item_name", "charge_name", "unit_price",
     "tax_rate", "valid_to", "allnet_class"],
    |c| [text(&c.code), text(c.validity.from), text(&c.title), text(c.kind), text(&c.item_name),
         text(&c.charge_name), text(c.unit_price), text(c.tax_rate), optional(c.validity.to),
         optional(c.allnet_class.as_ref())]);
stored!(Product, "products", key 2,
    ["product_code", "valid_from", "title_code", "product_name", "category", "settlement",
     "unit_price", "valid_to"],
    |p| [text(&p.code), text(p.validity.from), text(&p.title), text(&p.product_name),
         text(&p.category), text(p.settlement), Cell::Int(p.unit_price.0),
         optional(p.validity.to)]);
stored!(Rate, "rates", key 2, ["rate", "valid_from", "value"],
    |r| [text(r.name), text(r.valid_from), text(r.value)]);
stored!(AdjustmentSlip, "adjustments", key 1,
    ["slip_no", "partner_code", "store_code", "keychip_id", "item_no", "item_name",
     "adjusted_month", "transfer_date", "quantity", "unit_price", "amount", "kind", "description"],
    |a| [text(&a.slip_no), text(&a.partner), text(&a.store), optional(a.keychip.as_ref()),
         text(&a.item_no), text(&a.item_name), text(a.adjusted_month), text(a.transfer_date),
         Cell::Int(a.quantity), Cell::Int(a.unit_price.0), Cell::Int(a.amount.0), text(a.kind),
         text(&a.description)]);

fn upsert_statement<T: Stored>() -> String {
    let columns = T::COLUMNS.join(", ");
    let placeholders: Vec<String> = (1..=T::COLUMNS.len()).map(|i| format!("${i}")).collect();
    let key = T::COLUMNS[..T::KEY].join(", ");
    let updates: Vec<String> = T::COLUMNS[T::KEY..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {} ({columns}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {}",
        T::TABLE,
        placeholders.join(", "),
        updates.join(", ")
    )
}

/// Insert or update `records` by their key, inside `tx`.
async fn upsert<'r, T: Stored + 'r>(
    tx: &mut Transaction<'_, Any>,
    records: impl IntoIterator<Item = &'r T>,
) -> DbResult<()> {
    let statement = upsert_statement::<T>();
    for record in records {
        bind_all(sqlx::query(&statement), record.cells())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn text_bounded(text: &str) -> Result<Text, ParseError> {
    Text::parse_bounded(text, 0, usize::MAX)
}

fn validity(cells: &Cells) -> DbResult<Validity> {
    let from = cells.parse("valid_from", parse_date)?;
    let to = cells.parse_optional("valid_to", parse_date)?;
    Validity::new(from, to).map_err(|e| cells.corrupt(e))
}

impl Database {
    /// All master data as it stands.
    pub async fn master_data(&self) -> DbResult<MasterData> {
        let mut master = MasterData::default();
        for row in self.select::<Partner>().await? {
            let c = Cells::new(&row, "partners");
            let partner = Partner {
                code: c.parse("partner_code", PartnerCode::parse)?,
                name: c.parse("name", text_bounded)?,
                registration_number: c
                    .parse_optional("registration_number", RegistrationNumber::parse)?,
                email: c.parse_optional("email", Email::parse)?,
                notify: c.int("notify")? != 0,
                registered_name: c.parse_optional("registered_name", text_bounded)?,
            };
            master.partners.insert(partner.code.clone(), partner);
        }
        for row in self.select::<Store>().await? {
            let c = Cells::new(&row, "stores");
            let store = Store {
                code: c.parse("store_code", StoreCode::parse)?,
                partner: c.parse("partner_code", PartnerCode::parse)?,
                name: c.parse("name", text_bounded)?,
            };
            master.stores.insert(store.code.clone(), store);
        }
        for row in self.select::<Title>().await? {
            let c = Cells::new(&row, "titles");
            let title = Title {
                code: c.parse("title_code", TitleCode::parse)?,
                name: c.parse("name", text_bounded)?,
            };
            master.titles.insert(title.code.clone(), title);
        }
        for row in self.select::<KeychipAssignment>().await? {
            let c = Cells::new(&row, "keychips");
            let keychip = KeychipAssignment {
                keychip: c.parse("keychip_id", KeychipId::parse)?,
                store: c.parse("store_code", StoreCode::parse)?,
                title: c.parse("title_code", TitleCode::parse)?,
                validity: validity(&c)?,
            };
            master
                .keychips
                .insert((keychip.keychip.clone(), keychip.validity.from), keychip);
        }
        for row in self.select::<Charge>().await? {
            let c = Cells::new(&row, "charges");
            let charge = Charge {
                code: c.parse("charge_code", ChargeCode::parse)?,
                title: c.parse("title_code", TitleCode::parse)?,
                kind: c.parse("kind", ChargeKind::parse)?,
                item_name: c.parse("item_name", text_bounded)?,
                charge_name: c.parse("charge_name", text_bounded)?,
                unit_price: c.parse("unit_price", UnitPrice::parse)?,
                tax_rate: c.parse("tax_rate", Percent::parse)?,
                validity: validity(&c)?,
                allnet_class: c.parse_optional("allnet_class", text_bounded)?,
            };
            master
                .charges
                .insert((charge.code.clone(), charge.validity.from), charge);
        }
        for row in self.select::<Product>().await? {
            let c = Cells::new(&row, "products");
            let product = Product {
                code: c.parse("product_code", ProductCode::parse)?,
                title: c.parse("title_code", TitleCode::parse)?,
                product_name: c.parse("product_name", text_bounded)?,
                category: c.parse("category", text_bounded)?,
                settlement: c.parse("settlement", Settlement::parse)?,
                unit_price: Yen(c.int("unit_price")?),
                validity: validity(&c)?,
            };
            master
                .products
                .insert((product.code.clone(), product.validity.from), product);
        }
        for row in self.select::<Rate>().await? {
            let c = Cells::new(&row, "rates");
            let rate = Rate {
                name: c.parse("rate", RateName::parse)?,
                value: c.parse("value", Percent::parse)?,
                valid_from: c.parse("valid_from", parse_date)?,
            };
            master.rates.insert((rate.name, rate.valid_from), rate);
        }
        Ok(master)
    }

    async fn select<T: Stored>(&self) -> DbResult<Vec<sqlx::any::AnyRow>> {
        let statement = format!("SELECT {} FROM {}", T::COLUMNS.join(", "), T::TABLE);
        Ok(sqlx::query(&statement).fetch_all(self.pool()).await?)
    }

    /// Write every record of `changes` (new or changed rows) in one transaction, parents first.
    pub async fn save_master_data(&self, changes: &MasterData) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        upsert(&mut tx, changes.partners.values()).await?;
        upsert(&mut tx, changes.stores.values()).await?;
        upsert(&mut tx, changes.titles.values()).await?;
        upsert(&mut tx, changes.keychips.values()).await?;
        upsert(&mut tx, changes.charges.values()).await?;
        upsert(&mut tx, changes.products.values()).await?;
        upsert(&mut tx, changes.rates.values()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every adjustment slip.
    pub async fn adjustment_slips(&self) -> DbResult<Vec<AdjustmentSlip>> {
        let rows = self.select::<AdjustmentSlip>().await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "adjustments");
                Ok(AdjustmentSlip {
                    slip_no: c.parse("slip_no", SlipNo::parse)?,
                    partner: c.parse("partner_code", PartnerCode::parse)?,
                    store: c.parse("store_code", StoreCode::parse)?,
                    keychip: c.parse_optional("keychip_id", KeychipId::parse)?,
                    item_no: c.parse("item_no", text_bounded)?,
                    item_name: c.parse("item_name", text_bounded)?,
                    adjusted_month: c.parse("adjusted_month", Month::parse)?,
                    transfer_date: c.parse("transfer_date", parse_date)?,
                    quantity: c.int("quantity")?,
                    unit_price: Yen(c.int("unit_price")?),
                    amount: Yen(c.int("amount")?),
                    kind: c.parse("kind", AdjustmentKind::parse)?,
                    description: c.parse("description", text_bounded)?,
                })
            })
            .collect()
    }

    /// Write `slips` (new or changed) in one transaction.
    pub async fn save_adjustment_slips(&self, slips: &[AdjustmentSlip]) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        upsert(&mut tx, slips).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The last closed month, if any month was ever closed.
    /// Every closed month, oldest first.
    pub async fn closed_months(&self) -> DbResult<Vec<Month>> {
        let rows = sqlx::query("SELECT closing_month FROM closes ORDER BY closing_month")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Cells::new(row, "closes").parse("closing_month", Month::parse))
            .collect()
    }

    pub async fn last_closed_month(&self) -> DbResult<Option<Month>> {
        let row = sqlx::query("SELECT MAX(closing_month) AS last FROM closes")
            .fetch_one(self.pool())
            .await?;
        Cells::new(&row, "closes").parse_optional("last", Month::parse)
    }
}
