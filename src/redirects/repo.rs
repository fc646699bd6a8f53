//! Every statement on `redirects`. Rows are written collapsed: a stored `to_url` is never
//! another row's `from_path` (a new redirect's target is followed to its end, and rows that
//! pointed at its `from` are pointed past it), so serving is one lookup and one hop.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::model::{NewRedirect, RedirectId};

/// How far a chain is followed before it is called a loop (stored rows are collapsed, so
/// more than one hop happens only for rows written around this module, by psql).
const MAX_HOPS: i32 = 20;

/// A redirect as the admin lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Redirect {
    pub id: RedirectId,
    pub from_path: String,
    pub to_url: String,
    pub permanent: bool,
    pub source: String,
    pub hits: i64,
    pub last_hit_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The target of the first of `keys` (most specific first) that has a redirect, counted as
/// a hit in the same statement: `(to_url, permanent)`.
pub async fn hit(db: impl PgExecutor<'_>, keys: &[String]) -> sqlx::Result<Option<(String, bool)>> {
    sqlx::query_as(
        "WITH found AS (
             SELECT r.id, r.to_url, r.permanent
               FROM unnest($1::text[]) WITH ORDINALITY AS k(path, rank)
               JOIN redirects r ON r.from_path = k.path
              ORDER BY k.rank
              LIMIT 1)
         UPDATE redirects r
            SET hits = r.hits + 1, last_hit_at = now()
           FROM found
          WHERE r.id = found.id
         RETURNING found.to_url, found.permanent",
    )
    .bind(keys)
    .fetch_optional(db)
    .await
}

/// Where `to` finally leads through the stored redirects (`to` itself when it is no
/// redirect's `from`), leaving out redirect `except` (the one being edited); `None` when the
/// chain comes back to `from`: a loop.
pub async fn resolve(
    db: impl PgExecutor<'_>,
    from: &str,
    to: &str,
    except: Option<RedirectId>,
) -> sqlx::Result<Option<String>> {
    let (end, looped): (String, bool) = sqlx::query_as(
        "WITH RECURSIVE walk(at, hops) AS (
             SELECT $2::text, 0
             UNION ALL
             SELECT r.to_url, w.hops + 1
               FROM walk w
               JOIN redirects r ON r.from_path = w.at
              WHERE w.at <> $1 AND w.hops < $4
                AND r.id IS DISTINCT FROM $3)
         SELECT (SELECT at FROM walk ORDER BY hops DESC LIMIT 1),
                EXISTS (SELECT 1 FROM walk WHERE at = $1) OR max(hops) >= $4
           FROM walk",
    )
    .bind(from)
    .bind(to)
    .bind(except.map(|id| id.0))
    .bind(MAX_HOPS)
    .fetch_one(db)
    .await?;
    Ok((!looped).then_some(end))
}

/// Write one redirect (its `to` already resolved, see `redirects::save`): a new row, or
/// `id`'s. `Ok(None)` when another redirect has this `from` already.
pub async fn write(
    conn: &mut PgConnection,
    id: Option<RedirectId>,
    r: &NewRedirect,
) -> sqlx::Result<Option<RedirectId>> {
    let written = match id {
        None => {
            sqlx::query_scalar(
                "INSERT INTO redirects (from_path, to_url, permanent, source)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (from_path) DO NOTHING
                 RETURNING id",
            )
            .bind(&r.from)
            .bind(&r.to)
            .bind(r.permanent)
            .bind(&r.source)
            .fetch_optional(&mut *conn)
            .await
        }
        Some(id) => {
            sqlx::query_scalar(
                "UPDATE redirects
                    SET from_path = $2, to_url = $3, permanent = $4, source = $5
                  WHERE id = $1
                 RETURNING id",
            )
            .bind(id)
            .bind(&r.from)
            .bind(&r.to)
            .bind(r.permanent)
            .bind(&r.source)
            .fetch_optional(&mut *conn)
            .await
        }
    };
    let id = match written {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("redirects_from_path_key") => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if id.is_some() {
        collapse_onto(conn, std::slice::from_ref(&r.from)).await?;
    }
    Ok(id)
}

/// Rows that pointed at one of `froms` now point where it leads (no chains); a row that
/// would then lead to itself is left as it was.
async fn collapse_onto(conn: &mut PgConnection, froms: &[String]) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE redirects x
            SET to_url = y.to_url
           FROM redirects y
          WHERE y.from_path = ANY($1)
            AND x.to_url = y.from_path
            AND x.id <> y.id
            AND x.from_path <> y.to_url",
    )
    .bind(froms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Write many redirects at once, for importers, inside their transaction: one INSERT from
/// arrays. Each `to` is followed through the stored redirects (no chains); a row that would
/// loop is skipped, and so is a row whose `from` an admin set by hand (`source = 'manual'`)
/// unless it came from the same source. Rows with the same `from` in `rows`: the first is
/// written. Returns how many rows were inserted or updated.
///
/// Build `rows` with `NewRedirect::parse(old_url, new_path, true, "import:<source key>",
/// &settings.http.base_url)`.
pub async fn upsert_many(conn: &mut PgConnection, rows: &[NewRedirect]) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let froms: Vec<&str> = rows.iter().map(|r| r.from.as_str()).collect();
    let tos: Vec<&str> = rows.iter().map(|r| r.to.as_str()).collect();
    let permanents: Vec<bool> = rows.iter().map(|r| r.permanent).collect();
    let sources: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let written = sqlx::query(
        "WITH input AS (
             SELECT DISTINCT ON (from_path) from_path, to_url, permanent, source
               FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[])
                    WITH ORDINALITY AS u(from_path, to_url, permanent, source, n)
              ORDER BY from_path, n)
         INSERT INTO redirects (from_path, to_url, permanent, source)
         SELECT i.from_path, coalesce(r.to_url, i.to_url), i.permanent, i.source
           FROM input i
           LEFT JOIN redirects r ON r.from_path = i.to_url AND r.from_path <> i.from_path
          WHERE coalesce(r.to_url, i.to_url) <> i.from_path
         ON CONFLICT (from_path) DO UPDATE
            SET to_url = EXCLUDED.to_url, permanent = EXCLUDED.permanent,
                source = EXCLUDED.source
          WHERE (redirects.source = EXCLUDED.source OR redirects.source <> 'manual')
            AND (redirects.to_url, redirects.permanent, redirects.source)
                IS DISTINCT FROM (EXCLUDED.to_url, EXCLUDED.permanent, EXCLUDED.source)",
    )
    .bind(&froms)
    .bind(&tos)
    .bind(&permanents)
    .bind(&sources)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let froms: Vec<String> = froms.into_iter().map(str::to_owned).collect();
    collapse_onto(conn, &froms).await?;
    // Rows of this batch that lead back to themselves through others of it: dropped.
    sqlx::query(
        "WITH RECURSIVE walk(start, at, hops) AS (
             SELECT from_path, to_url, 1 FROM redirects WHERE from_path = ANY($1)
             UNION ALL
             SELECT w.start, r.to_url, w.hops + 1
               FROM walk w JOIN redirects r ON r.from_path = w.at
              WHERE w.at <> w.start AND w.hops < $2)
         DELETE FROM redirects
          WHERE from_path IN (SELECT start FROM walk WHERE at = start)
            AND source <> 'manual'",
    )
    .bind(&froms)
    .bind(MAX_HOPS)
    .execute(&mut *conn)
    .await?;
    Ok(written)
}

pub async fn find(db: impl PgExecutor<'_>, id: RedirectId) -> sqlx::Result<Option<Redirect>> {
    sqlx::query_as(
        "SELECT id, from_path, to_url, permanent, source, hits, last_hit_at, created_at, updated_at
           FROM redirects WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The redirects whose `from` or `to` contains `search` (any case; all when empty), newest
/// first: `limit` from `offset`.
pub async fn list(
    db: impl PgExecutor<'_>,
    search: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Redirect>> {
    sqlx::query_as(
        "SELECT id, from_path, to_url, permanent, source, hits, last_hit_at, created_at, updated_at
           FROM redirects
          WHERE $1 = ''
             OR strpos(lower(from_path), lower($1)) > 0
             OR strpos(lower(to_url), lower($1)) > 0
          ORDER BY created_at DESC, id DESC
          LIMIT $2 OFFSET $3",
    )
    .bind(search)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// Whether there was such a redirect.
pub async fn delete(db: impl PgExecutor<'_>, id: RedirectId) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM redirects WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A redirect as `quire export` writes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedRedirect {
    pub id: RedirectId,
    pub from_path: String,
    pub to_url: String,
    pub permanent: bool,
}

/// The next `limit` redirects after id `after`, by id: the export reads them in pages.
pub async fn export_after(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ExportedRedirect>> {
    sqlx::query_as(
        "SELECT id, from_path, to_url, permanent FROM redirects
          WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many redirects there are.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM redirects")
        .fetch_one(db)
        .await
}
