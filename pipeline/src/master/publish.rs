//! The master tables in the lake (`master/<table>.parquet`), as they stand after an import, so
//! that analysts can join events to them.

use crate::domain::MasterData;
use crate::lake::cells::{optional, text};
use crate::lake::layout::master_path;
use crate::lake::{Cell, Kind, LakeResult, Location, Table};

/// Write every master table of `master` to `lake`, replacing what was there.
pub async fn publish_master(master: &MasterData, lake: &Location) -> LakeResult<()> {
    use Kind::*;
    let mut partners = Table::new(&[
        ("partner_code", Text, false),
        ("name", Text, false),
        ("registration_number", Text, true),
        ("email", Text, true),
        ("notify", Flag, false),
        ("registered_name", Text, true),
    ]);
    for p in master.partners.values() {
        partners.push(vec![
            text(&p.code),
            text(&p.name),
            optional(p.registration_number.as_ref()),
            optional(p.email.as_ref().map(|e| e.as_str())),
            Cell::Flag(Some(p.notify)),
            optional(p.registered_name.as_ref()),
        ]);
    }
    let mut stores = Table::new(&[
        ("store_code", Text, false),
        ("partner_code", Text, false),
        ("name", Text, false),
    ]);
    for s in master.stores.values() {
        stores.push(vec![text(&s.code), text(&s.partner), text(&s.name)]);
    }
    let mut titles = Table::new(&[("title_code", Text, false), ("name", Text, false)]);
    for t in master.titles.values() {
        titles.push(vec![text(&t.code), text(&t.name)]);
    }
    let mut keychips = Table::new(&[
        ("keychip_id", Text, false),
        ("store_code", Text, false),
        ("title_code", Text, false),
        ("valid_from", Date, false),
        ("valid_to", Date, true),
    ]);
    for k in master.keychips.values() {
        keychips.push(vec![
            text(&k.keychip),
            text(&k.store),
            text(&k.title),
            Cell::Date(Some(k.validity.from)),
            Cell::Date(k.validity.to),
        ]);
    }
    let mut charges = Table::new(&[
        ("charge_code", Text, false),
        ("title_code", Text, false),
        ("kind", Text, false),
        ("item_name", Text, false),
        ("charge_name", Text, false),
        ("unit_price", Decimal, false),
        ("tax_rate", Decimal, false),
        ("valid_from", Date, false),
        ("valid_to", Date, true),
        ("allnet_class", Text, true),
    ]);
    for c in master.charges.values() {
        charges.push(vec![
            text(&c.code),
            text(&c.title),
            text(c.kind),
            text(&c.item_name),
            text(&c.charge_name),
            Cell::Decimal(Some(c.unit_price.0)),
            Cell::Decimal(Some(c.tax_rate.0)),
            Cell::Date(Some(c.validity.from)),
            Cell::Date(c.validity.to),
            optional(c.allnet_class.as_ref()),
        ]);
    }
    let mut products = Table::new(&[
        ("product_code", Text, false),
        ("title_code", Text, false),
        ("product_name", Text, false),
        ("category", Text, false),
        ("settlement", Text, false),
        ("unit_price", Int, false),
        ("valid_from", Date, false),
        ("valid_to", Date, true),
    ]);
    for p in master.products.values() {
        products.push(vec![
            text(&p.code),
            text(&p.title),
            text(&p.product_name),
            text(&p.category),
            text(p.settlement),
            Cell::Int(Some(p.unit_price.0)),
            Cell::Date(Some(p.validity.from)),
            Cell::Date(p.validity.to),
        ]);
    }
    let mut rates = Table::new(&[
        ("rate", Text, false),
        ("value", Decimal, false),
        ("valid_from", Date, false),
    ]);
    for r in master.rates.values() {
        rates.push(vec![
            text(r.name),
            Cell::Decimal(Some(r.value.0)),
            Cell::Date(Some(r.valid_from)),
        ]);
    }
    for (name, table) in [
        ("partners", partners),
        ("stores", stores),
        ("titles", titles),
        ("keychips", keychips),
        ("charges", charges),
        ("products", products),
        ("rates", rates),
    ] {
        lake.put_table(&master_path(name), table).await?;
    }
    Ok(())
}
