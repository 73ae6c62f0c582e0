//! One database connection, PostgreSQL or MySQL, behind a small common
//! interface: statements written with `?` placeholders (MySQL style, as in
//! nats-streaming-server) and turned into `$1, $2...` for PostgreSQL, plain
//! argument values, and rows read as a few column types.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Row};

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    I64(i64),
    Str(String),
    Bytes(Vec<u8>),
}

/// One statement and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub sql: std::borrow::Cow<'static, str>,
    pub args: Vec<Arg>,
}

impl Stmt {
    pub fn new(sql: &'static str, args: Vec<Arg>) -> Stmt {
        Stmt { sql: std::borrow::Cow::Borrowed(sql), args }
    }
}

/// Which SQL dialect a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
}

/// An open connection.
pub enum Conn {
    Pg(PgConnection),
    My(MySqlConnection),
}

/// A fetched row, column access by index.
pub enum DbRow {
    Pg(PgRow),
    My(MySqlRow),
}

/// Rewrites `?` placeholders and the backquoted `` `row` `` column for `d`.
pub fn dialect_sql(d: Dialect, sql: &str) -> String {
    match d {
        Dialect::MySql => sql.to_string(),
        Dialect::Postgres => {
            let mut out = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.replace("`row`", "row").chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Bytes(b) => q.bind(b.as_slice()),
            };
        }
        q
    }};
}

impl Conn {
    pub async fn connect_pg(o: &PgConnectOptions) -> Result<Conn, sqlx::Error> {
        Ok(Conn::Pg(PgConnection::connect_with(o).await?))
    }

    pub async fn connect_my(o: &MySqlConnectOptions) -> Result<Conn, sqlx::Error> {
        Ok(Conn::My(MySqlConnection::connect_with(o).await?))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Pg(_) => Dialect::Postgres,
            Conn::My(_) => Dialect::MySql,
        }
    }

    /// Runs `stmts` in one transaction; returns the rows each affected.
    pub async fn transaction(&mut self, stmts: &[Stmt]) -> Result<(), String> {
        let d = self.dialect();
        let sqls: Vec<String> = stmts.iter().map(|s| dialect_sql(d, &s.sql)).collect();
        let fail = |i: usize, e: sqlx::Error| format!("sql: error executing {:?}: {e}", sqls[i]);
        match self {
            Conn::Pg(c) => {
                let mut tx = c.begin().await.map_err(|e| format!("sql: cannot begin a transaction: {e}"))?;
                for (i, s) in stmts.iter().enumerate() {
                    bind_all!(sqlx::query(&sqls[i]), &s.args).execute(&mut *tx).await.map_err(|e| fail(i, e))?;
                }
                tx.commit().await.map_err(|e| format!("sql: commit failed: {e}"))
            }
            Conn::My(c) => {
                let mut tx = c.begin().await.map_err(|e| format!("sql: cannot begin a transaction: {e}"))?;
                for (i, s) in stmts.iter().enumerate() {
                    bind_all!(sqlx::query(&sqls[i]), &s.args).execute(&mut *tx).await.map_err(|e| fail(i, e))?;
                }
                tx.commit().await.map_err(|e| format!("sql: commit failed: {e}"))
            }
        }
    }

    /// Runs one query and returns all its rows.
    pub async fn fetch(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<DbRow>, String> {
        let text = dialect_sql(self.dialect(), sql);
        let fail = |e: sqlx::Error| format!("sql: error executing {text:?}: {e}");
        match self {
            Conn::Pg(c) => Ok(bind_all!(sqlx::query(&text), args)
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
                .into_iter()
                .map(DbRow::Pg)
                .collect()),
            Conn::My(c) => Ok(bind_all!(sqlx::query(&text), args)
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
                .into_iter()
                .map(DbRow::My)
                .collect()),
        }
    }

    /// Runs `sql` unprepared (text protocol), e.g. `BEGIN`.
    pub async fn raw(&mut self, sql: &'static str) -> Result<(), String> {
        let r = match self {
            Conn::Pg(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(|_| ()),
            Conn::My(c) => sqlx::raw_sql(sql).execute(&mut *c).await.map(|_| ()),
        };
        r.map_err(|e| format!("sql: error executing {sql:?}: {e}"))
    }

    pub async fn close(self) {
        let _ = match self {
            Conn::Pg(c) => c.close().await,
            Conn::My(c) => c.close().await,
        };
    }
}

impl DbRow {
    /// An integer column of any width or signedness (NULL reads as 0).
    pub fn int(&self, i: usize) -> Result<i64, String> {
        let err = |e: sqlx::Error| format!("sql: column {i}: {e}");
        match self {
            DbRow::Pg(r) => {
                if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                    return Ok(v.unwrap_or(0));
                }
                if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                    return Ok(v.unwrap_or(0).into());
                }
                r.try_get::<Option<i16>, _>(i).map(|v| v.unwrap_or(0).into()).map_err(err)
            }
            DbRow::My(r) => {
                if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                    return Ok(v.unwrap_or(0));
                }
                if let Ok(v) = r.try_get::<Option<u64>, _>(i) {
                    return Ok(v.unwrap_or(0) as i64);
                }
                if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                    return Ok(v.unwrap_or(0).into());
                }
                // SUM() and some COALESCE() results come back as DECIMAL.
                let s = r.try_get::<Option<String>, _>(i).map_err(err)?;
                let s = s.unwrap_or_default();
                s.split('.')
                    .next()
                    .unwrap_or("0")
                    .parse()
                    .map_err(|_| format!("sql: column {i}: not an integer: {s:?}"))
            }
        }
    }

    /// A text column (NULL reads as empty).
    pub fn text(&self, i: usize) -> Result<String, String> {
        let err = |e: sqlx::Error| format!("sql: column {i}: {e}");
        match self {
            DbRow::Pg(r) => r.try_get::<Option<String>, _>(i).map(Option::unwrap_or_default).map_err(err),
            DbRow::My(r) => match r.try_get::<Option<String>, _>(i) {
                Ok(v) => Ok(v.unwrap_or_default()),
                Err(_) => {
                    let b = r.try_get::<Option<Vec<u8>>, _>(i).map_err(err)?.unwrap_or_default();
                    String::from_utf8(b).map_err(|_| format!("sql: column {i}: not UTF-8"))
                }
            },
        }
    }

    /// A binary column (NULL reads as empty).
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, String> {
        let err = |e: sqlx::Error| format!("sql: column {i}: {e}");
        match self {
            DbRow::Pg(r) => r.try_get::<Option<Vec<u8>>, _>(i).map(Option::unwrap_or_default).map_err(err),
            DbRow::My(r) => r.try_get::<Option<Vec<u8>>, _>(i).map(Option::unwrap_or_default).map_err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders() {
        assert_eq!(
            dialect_sql(Dialect::Postgres, "INSERT INTO SubsPending (subid, `row`, seq) VALUES (?, ?, ?)"),
            "INSERT INTO SubsPending (subid, row, seq) VALUES ($1, $2, $3)"
        );
        assert_eq!(dialect_sql(Dialect::MySql, "SELECT ? "), "SELECT ? ");
    }
}
