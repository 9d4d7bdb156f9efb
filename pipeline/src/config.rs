//! Configuration (`cli.md`): a TOML file, each key overridable by `KAKIN_<KEY>`, and with
//! neither the embedded default — everything under `./var/`.

use crate::domain::{Parse, RegistrationNumber};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database_url: String,
    pub lake_url: String,
    pub incoming_url: String,
    /// Empty: write `.eml` files to `outbox_dir`.
    pub smtp_url: String,
    /// Where `.eml` files go when no SMTP server is configured.
    pub outbox_dir: String,
    pub mail_from: String,
    /// Where operators' replies go (empty: `mail_from`).
    pub mail_reply_to: String,
    pub issuer_name: String,
    pub issuer_registration_number: String,
    pub emoney_processor_name: String,
    pub emoney_processor_registration_number: String,
    pub invoice_number_start: u32,
    pub payment_day: u32,
    /// Seconds after its last renewal that the writer lease of a holder that died expires.
    pub lease_seconds: u64,
    pub schedule: Schedule,
}

/// Cron expressions (with seconds), Asia/Tokyo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    pub ingest: String,
    pub close: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://var/kakin.db".into(),
            lake_url: "file://var/lake".into(),
            incoming_url: "file://var/incoming".into(),
            smtp_url: String::new(),
            outbox_dir: "var/outbox".into(),
            mail_from: "billing@example.invalid".into(),
            mail_reply_to: String::new(),
            issuer_name: "株式会社セガ".into(),
            issuer_registration_number: "T4010801006141".into(),
            emoney_processor_name: "TOPPANエッジ・ペイメント株式会社".into(),
            emoney_processor_registration_number: "T3010401096996".into(),
            invoice_number_start: 1_700_000,
            payment_day: 25,
            lease_seconds: 60,
            schedule: Schedule::default(),
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            ingest: "0 0 2 * * *".into(),
            close: "0 0 4 1 * *".into(),
        }
    }
}

/// Every key of the file, as its environment variable names it after `KAKIN_`.
const KEYS: &[&str] = &[
    "database_url",
    "lake_url",
    "incoming_url",
    "smtp_url",
    "outbox_dir",
    "mail_from",
    "mail_reply_to",
    "issuer_name",
    "issuer_registration_number",
    "emoney_processor_name",
    "emoney_processor_registration_number",
    "invoice_number_start",
    "payment_day",
    "lease_seconds",
    "schedule_ingest",
    "schedule_close",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    Missing(String),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// The embedded default with everything under `dir` instead of `./var/`: SQLite, a local
    /// lake and incoming area, `.eml` files. What `kakin demo` runs on, whatever is configured.
    pub fn embedded_under(dir: &Path) -> Settings {
        let under = |name: &str| dir.join(name).display().to_string();
        Settings {
            database_url: format!("sqlite://{}", under("kakin.db")),
            lake_url: format!("file://{}", under("lake")),
            incoming_url: format!("file://{}", under("incoming")),
            outbox_dir: under("outbox"),
            ..Settings::default()
        }
    }

    /// Read the settings: the defaults, then `file` (or `./kakin.toml` if present), then the
    /// `KAKIN_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(file) if !file.exists() => {
                return Err(ConfigError::Missing(file.display().to_string()))
            }
            Some(file) => figment = figment.merge(Toml::file(file)),
            None if Path::new("kakin.toml").exists() => {
                figment = figment.merge(Toml::file("kakin.toml"))
            }
            None => {}
        }
        let environment = Env::prefixed("KAKIN_").filter_map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            KEYS.contains(&key.as_str())
                .then(|| key.replacen("schedule_", "schedule.", 1).into())
        });
        let settings: Settings = figment
            .merge(environment)
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "issuer_registration_number",
                &self.issuer_registration_number,
            ),
            (
                "emoney_processor_registration_number",
                &self.emoney_processor_registration_number,
            ),
        ] {
            RegistrationNumber::parse(value)
                .map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
        }
        crate::notify::MailSettings::new(&self.mail_from, &self.mail_reply_to)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !(1..=28).contains(&self.payment_day) {
            return Err(ConfigError::Invalid(
                "payment_day must be a day from 1 to 28".into(),
            ));
        }
        if !(2..=3600).contains(&self.lease_seconds) {
            return Err(ConfigError::Invalid(
                "lease_seconds must be from 2 to 3600".into(),
            ));
        }
        if self.invoice_number_start > 9_999_999 {
            return Err(ConfigError::Invalid(
                "invoice_number_start must leave room for 7-digit numbers".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment::Jail's closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_the_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "kakin.toml",
                "payment_day = 20\n[schedule]\nclose = \"0 0 5 1 * *\"",
            )?;
            jail.set_env("KAKIN_DATABASE_URL", "postgres://db/kakin");
            jail.set_env("KAKIN_SCHEDULE_INGEST", "0 30 1 * * *");
            jail.set_env("KAKIN_TEST_SOMETHING_ELSE", "ignored");
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.payment_day, 20);
            assert_eq!(settings.database_url, "postgres://db/kakin");
            assert_eq!(settings.schedule.ingest, "0 30 1 * * *");
            assert_eq!(settings.schedule.close, "0 0 5 1 * *");
            assert_eq!(settings.lake_url, "file://var/lake");
            Ok(())
        });
    }

    #[test]
    fn bad_settings_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "kakin.toml",
                "issuer_registration_number = \"T1234567890123\"",
            )?;
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("check digit"), "{err}");
            jail.create_file("kakin.toml", "unknown_key = 1")?;
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}
