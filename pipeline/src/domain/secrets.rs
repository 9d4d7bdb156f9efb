//! Secrets never shown: what a URL looks like in a message, a log line or the job ledger.

/// `url` as it may be shown or stored: the password of `scheme://user:password@host/…` (and
/// any `password=` query parameter) replaced by `***`. Database and SMTP URLs go through this
/// before they reach a message, a log line or the job ledger.
pub fn redacted(url: &str) -> String {
    let mut shown = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((credentials, host)) => {
                    let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
                    let hidden = if credentials.contains(':') {
                        ":***"
                    } else {
                        ""
                    };
                    format!("{scheme}://{user}{hidden}@{host}{tail}")
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    if let Some(start) = shown.find("password=") {
        let value = start + "password=".len();
        let end = shown[value..].find('&').map_or(shown.len(), |e| value + e);
        shown.replace_range(value..end, "***");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_are_shown_without_their_passwords() {
        assert_eq!(
            redacted("postgres://kakin:s3cr:et@db.example:5432/kakin"),
            "postgres://kakin:***@db.example:5432/kakin"
        );
        assert_eq!(
            redacted("smtps://user:pw@mail/x?a=1"),
            "smtps://user:***@mail/x?a=1"
        );
        assert_eq!(redacted("smtp://mail:25"), "smtp://mail:25");
        assert_eq!(redacted("sqlite://var/kakin.db"), "sqlite://var/kakin.db");
        assert_eq!(
            redacted("postgres://db/kakin?user=k&password=hush&sslmode=require"),
            "postgres://db/kakin?user=k&password=***&sslmode=require"
        );
    }
}
