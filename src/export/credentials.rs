//! A database URL and its password. The password comes from the URL, else the server's own
//! environment variable (`PGPASSWORD`, `MYSQL_PWD`), else its password file (`~/.pgpass`, the
//! `[client]` group of `~/.my.cnf`); it is never displayed: a [`SourceUrl`] prints without it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The server kinds recon exports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PostgreSQL`.
    Postgres,
    /// `MariaDB` or `MySQL`.
    Mysql,
}

/// A parsed `postgres://user@host:5432/db` or `mysql://user@host:3306/db`.
#[derive(Clone)]
pub struct SourceUrl {
    /// The server kind.
    pub kind: Kind,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    password: Option<String>,
    /// Database.
    pub database: String,
    /// How long connecting may take, TCP and the server's handshake together (libpq's
    /// `connect_timeout`).
    pub connect_timeout: Duration,
}

/// The connect timeout unless one is given: long enough for a loaded server across a WAN.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl SourceUrl {
    /// Errors when this build of recon has no exporter for the server: it was compiled without
    /// the `postgres` or `mysql` cargo feature.
    pub fn require_exporter(&self) -> Result<()> {
        let (built, feature, server) = match self.kind {
            Kind::Postgres => (cfg!(feature = "postgres"), "postgres", "PostgreSQL"),
            Kind::Mysql => (cfg!(feature = "mysql"), "mysql", "MariaDB/MySQL"),
        };
        if built {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "{self}: this build of recon cannot reach {server}: it was built without the \
             `{feature}` feature (the default builds have it; or build with `--features {feature}`)"
        )))
    }
}

impl fmt::Debug for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceUrl({self})")
    }
}

impl fmt::Display for SourceUrl {
    /// The URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
        };
        write!(
            f,
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

impl SourceUrl {
    /// Parses a URL; the message of an error never quotes the URL or any part of it but its
    /// scheme. A URL whose parts are ambiguous is refused rather than guessed at: a password
    /// holding an unencoded `/`, `#` or `?` would otherwise be read as host, database or
    /// fragment, and printed as such.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "database URL: {why} (expected postgres://user@host:5432/db or \
                 mysql://user@host:3306/db; percent-encode `/`, `@`, `#`, `?` and `%` in the \
                 user, password or database, e.g. `/` as %2F)"
            ))
        };
        let url = url::Url::parse(text).map_err(|_| bad("not a URL"))?;
        if url.fragment().is_some() || url.query().is_some() {
            return Err(bad("it has a `#` or `?` part, which recon does not read"));
        }
        let raw_database = url.path().strip_prefix('/').unwrap_or_default();
        if raw_database.contains(['/', '@']) || (url.password().is_some() && url.host().is_none()) {
            return Err(bad(
                "its parts are ambiguous (a `/` or `@` after the host, or no host)",
            ));
        }
        let (kind, port) = match url.scheme() {
            "postgres" | "postgresql" => (Kind::Postgres, 5432),
            "mysql" | "mariadb" => (Kind::Mysql, 3306),
            other => return Err(bad(&format!("unknown scheme `{other}`"))),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| bad("user or password is not UTF-8"))
        };
        let user = decode(url.username())?;
        let user = if user.is_empty() {
            match kind {
                Kind::Postgres => "postgres".to_owned(),
                Kind::Mysql => "root".to_owned(),
            }
        } else {
            user
        };
        let password = url.password().map(decode).transpose()?;
        let database = decode(url.path().trim_start_matches('/'))?;
        if database.is_empty() {
            return Err(bad("no database named"));
        }
        Ok(Self {
            kind,
            host: url.host_str().unwrap_or("localhost").to_owned(),
            port: url.port().unwrap_or(port),
            user,
            password,
            database,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        })
    }

    /// The password: from the URL, the environment, or the password file.
    pub(crate) fn password(&self) -> Option<String> {
        if let Some(p) = &self.password {
            return Some(p.clone());
        }
        match self.kind {
            Kind::Postgres => std::env::var("PGPASSWORD").ok().or_else(|| self.pgpass()),
            Kind::Mysql => std::env::var("MYSQL_PWD").ok().or_else(my_cnf_password),
        }
    }

    /// The first matching line of `PGPASSFILE` or `~/.pgpass` (`host:port:db:user:password`,
    /// `*` matching anything, `\:` and `\\` escaped).
    fn pgpass(&self) -> Option<String> {
        let path = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".pgpass")))?;
        let text = std::fs::read_to_string(path).ok()?;
        let port = self.port.to_string();
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find_map(|line| {
                let fields = split_pgpass(line);
                let [host, p, db, user, password] = fields.as_slice() else {
                    return None;
                };
                let m = |pattern: &str, value: &str| pattern == "*" || pattern == value;
                (m(host, &self.host) && m(p, &port) && m(db, &self.database) && m(user, &self.user))
                    .then(|| password.clone())
            })
    }
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `password = ...` in the `[client]` group of `~/.my.cnf`.
fn my_cnf_password() -> Option<String> {
    let text = std::fs::read_to_string(home()?.join(".my.cnf")).ok()?;
    let mut in_client = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_client = line.eq_ignore_ascii_case("[client]");
        } else if in_client
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "password"
        {
            return Some(v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_without_their_password() {
        let u = SourceUrl::parse("mysql://app:s%3Acret@db.example:3307/erp").expect("url");
        assert_eq!(u.kind, Kind::Mysql);
        assert_eq!(u.password().as_deref(), Some("s:cret"));
        assert_eq!(u.to_string(), "mysql://app@db.example:3307/erp");
        assert!(!format!("{u:?}").contains("cret"));
        let p = SourceUrl::parse("postgresql://localhost/ledger").expect("url");
        assert_eq!(
            (p.kind, p.port, p.user.as_str()),
            (Kind::Postgres, 5432, "postgres")
        );
        let e = SourceUrl::parse("oracle://u:hunter2@h/db").expect_err("scheme");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(SourceUrl::parse("postgres://h:5432/").is_err());
    }

    #[test]
    fn urls_a_password_would_split_are_refused_without_quoting_them() {
        for url in [
            "postgres://app:12/Zq9@db.example:5432/erp",
            "postgres://app:Zq9#x@db.example:5432/erp",
            "mysql://app:12#Zq9@db.example/erp",
            "postgres://app:12?Zq9@db.example/erp",
            "mysql://app@db.example/erp/Zq9",
        ] {
            let e = SourceUrl::parse(url).expect_err(url);
            assert!(!e.to_string().contains("Zq9"), "{e}");
        }
        // An `@` in the password is not ambiguous: the last one ends the user information.
        let u = SourceUrl::parse("mysql://app:p@ss@db.example/erp").expect("url");
        assert_eq!(
            (u.host.as_str(), u.password().as_deref()),
            ("db.example", Some("p@ss"))
        );
    }

    #[test]
    fn pgpass_lines_split_on_unescaped_colons() {
        assert_eq!(
            split_pgpass(r"h:5432:*:u:pa\:ss:word"),
            ["h", "5432", "*", "u", "pa:ss:word"]
        );
    }
}
