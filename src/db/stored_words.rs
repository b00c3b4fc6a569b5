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
