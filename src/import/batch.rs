//! Applying many items in one write transaction, each in its own savepoint: a refused item is rolled
//! back alone and reported; a database failure aborts the whole batch (nothing of it is committed).

use crate::db::Connection;
use crate::db::transaction::within_savepoint;
use crate::domain::DomainError;

/// Items per write transaction: large enough to amortise the commit, small enough that the writer
/// thread is never held for long and the progress bar moves.
pub(crate) const CHUNK: usize = 50;

/// Whether an error means the database itself failed (abort) rather than the item being refused (skip).
pub(crate) fn is_fatal(e: &DomainError) -> bool {
    matches!(e, DomainError::Internal(_) | DomainError::Unavailable { .. })
}

pub(crate) fn each_in_savepoint<I, R>(
    c: &Connection,
    items: &[I],
    mut apply: impl FnMut(&Connection, &I) -> Result<R, DomainError>,
) -> Result<Vec<Result<R, DomainError>>, DomainError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match within_savepoint(c, |c| apply(c, item))? {
            Ok(r) => out.push(Ok(r)),
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => out.push(Err(e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::DbError;

    #[test]
    fn a_refused_item_leaves_nothing_behind_and_a_failure_aborts() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v INTEGER); BEGIN").unwrap();
        let results = each_in_savepoint(&c, &[1, 2, 3], |c, v| {
            c.execute("INSERT INTO t VALUES (?1)", [v]).map_err(DbError::from)?;
            if *v == 2 {
                return Err(DomainError::invalid("v", "two is refused after its insert"));
            }
            Ok(*v)
        })
        .unwrap();
        assert!(results[1].is_err());
        let rows: Vec<i64> = c
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [1, 3]);

        let fatal = each_in_savepoint(&c, &[4, 5], |_, v| {
            if *v == 4 { Err(DomainError::Internal(anyhow::anyhow!("disk full"))) } else { Ok(()) }
        });
        assert!(fatal.is_err(), "a database failure stops the batch");
    }
}
