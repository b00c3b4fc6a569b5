//! Enums stored as one word per variant (a status, an outcome): the same word in the column, in
//! JSON and on the page, so the stored strings never change when the type is introduced.

/// Implements, for `$ty` with the given variant => word pairs: `ALL`, `as_str`, `parse`,
/// `Display`, and rusqlite's `ToSql`/`FromSql`, where an unknown stored word is an error naming
/// `$what` instead of a silent default.
macro_rules! stored_as_words {
    ($ty:ident, $what:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [$ty; [$($word),+].len()] = [$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The value named `name` (as stored, and as forms and imports write it).
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let name = value.as_str()?;
                Self::parse(name).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(format!(concat!("unknown ", $what, " {:?}"), name).into())
                })
            }
        }
    };
}

pub(crate) use stored_as_words;

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use rusqlite::types::{FromSql, ToSql};

    use crate::db::jobs::JobOutcome;
    use crate::db::setlist_fetches::LookupOutcome;
    use crate::db::show_status::ShowStatus;

    /// Every value is stored as its word and reads back as itself; a word none of them has is an error.
    fn reads_back<T: ToSql + FromSql + PartialEq + Debug + Copy>(all: &[T], word: fn(T) -> &'static str) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for &value in all {
            let (stored, back): (String, T) =
                conn.query_row("SELECT ?1, ?1", [value], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((stored.as_str(), back), (word(value), value));
        }
        let unknown: rusqlite::Result<T> = conn.query_row("SELECT 'postponed'", [], |r| r.get(0));
        assert!(unknown.is_err(), "an unknown stored word is an error, not a silent default");
    }

    #[test]
    fn every_stored_word_reads_back_and_an_unknown_one_is_an_error() {
        reads_back(&ShowStatus::ALL, ShowStatus::as_str);
        reads_back(&JobOutcome::ALL, JobOutcome::as_str);
        reads_back(&LookupOutcome::ALL, LookupOutcome::as_str);
    }

    #[test]
    fn json_says_the_stored_word() {
        for s in ShowStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for o in JobOutcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
