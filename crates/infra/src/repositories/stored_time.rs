//! Timestamps as read from the store.
//!
//! SQLite keeps a timestamp as text, and Diesel reads it by trying the
//! time crate's format descriptions one after another, each parsed item
//! by item: on a page of 20 posts that was a third of the request's
//! instructions (callgrind). What this crate writes (through Diesel) is
//! always `YYYY-MM-DD HH:MM:SS` with an optional fraction; that shape is
//! read here directly, and anything else goes to Diesel's own reading, so
//! every value Diesel reads is still read, to the same time.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteValue};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::db::{MultiBackend, MultiRawValue};

/// A stored timestamp: UTC, kept without a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub(super) struct StoredTime(PrimitiveDateTime);

impl StoredTime {
    /// The instant, in UTC.
    pub(super) fn utc(self) -> OffsetDateTime {
        self.0.assume_utc()
    }

    /// `at` as if read back (tests of what reads it).
    #[cfg(test)]
    pub(super) fn of(at: OffsetDateTime) -> Self {
        Self(super::to_db_time(at))
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        match parse_written(value.read_text()) {
            Some(at) => Ok(Self(at)),
            None => <PrimitiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self),
        }
    }
}

/// PostgreSQL sends a timestamp as a binary count of microseconds: cheap.
impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <PrimitiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1 to 9 digits of a
/// second, the shape Diesel writes; `None` for any other text, and for a
/// date or time that does not exist.
fn parse_written(text: &str) -> Option<PrimitiveDateTime> {
    let (whole, fraction) = text.as_bytes().split_at_checked(19)?;
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, byte)| whole[at] != byte) {
        return None;
    }
    let two_digits = |at: usize| u8::try_from(number(&whole[at..at + 2])?).ok();
    let nanosecond = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            // Fewer than 9 digits are the leading ones: ".5" is 500 ms.
            number(digits)? * 10_u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&whole[..4])?).ok()?;
    let month = Month::try_from(two_digits(5)?).ok()?;
    let date = Date::from_calendar_date(year, month, two_digits(8)?).ok()?;
    let time = Time::from_hms_nano(
        two_digits(11)?,
        two_digits(14)?,
        two_digits(17)?,
        nanosecond,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// ASCII digits as a number; `None` if any byte is not a digit. At most 9
/// digits, so it cannot overflow.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0_u32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the way Diesel reads it: its formats, tried in turn.
    fn diesel_reads(text: &str) -> Option<PrimitiveDateTime> {
        use time::macros::format_description;
        [
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        ]
        .iter()
        .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
    }

    #[test]
    fn reads_the_written_shape_as_diesel_does() {
        for text in [
            "2026-12-04 20:11:43",
            "2026-12-04 20:11:43.5",
            "2026-12-04 20:11:43.05",
            "2026-12-04 20:11:43.123456",
            "2026-12-04 20:11:43.123456789",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999999",
            "2024-02-29 12:00:00",
        ] {
            let parsed = parse_written(text);
            assert!(parsed.is_some(), "{text}");
            assert_eq!(parsed, diesel_reads(text), "{text}");
        }
    }

    #[test]
    fn leaves_every_other_text_to_diesel() {
        for text in [
            "",
            "2026-12-04",
            "2026-12-04 20:11",
            "2026-12-04T20:11:43",
            "2026-12-04 20:11:43Z",
            "2026-12-04 20:11:43+00:00",
            "2026-12-04 20:11:43.",
            "2026-12-04 20:11:43.1234567890",
            "2026-12-04 20:11:43.12a",
            "2026-12-04 20:11:4x",
            "+2026-12-04 20:11:43",
            "2461013.5",
            // No such date or time: Diesel's reading refuses them too.
            "2026-13-04 20:11:43",
            "2026-00-04 20:11:43",
            "2025-02-29 20:11:43",
            "2026-12-04 24:00:00",
            "2026-12-04 23:60:00",
            "2026-12-04 23:59:60",
            "2026-12-04 ２0:11:43",
        ] {
            assert_eq!(parse_written(text), None, "{text}");
        }
    }

    /// Through SQLite itself: what Diesel writes, and the shapes only
    /// Diesel's reading knows, read back as Diesel reads them.
    #[test]
    fn reads_from_sqlite_what_diesel_reads() {
        use diesel::dsl::sql;
        use diesel::{Connection, IntoSql, RunQueryDsl, SqliteConnection};

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let at = PrimitiveDateTime::new(
            Date::from_calendar_date(2026, Month::December, 4).unwrap(),
            Time::from_hms_nano(20, 11, 43, 123_456_000).unwrap(),
        );
        for at in [at, at.replace_nanosecond(0).unwrap()] {
            let read: StoredTime = diesel::select(at.into_sql::<Timestamp>())
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(read, StoredTime(at));
        }
        for text in ["'2026-12-04T20:11:43Z'", "'2026-12-04 20:11'", "2461378.5"] {
            let read: StoredTime = diesel::select(sql::<Timestamp>(text))
                .get_result(&mut conn)
                .unwrap();
            let diesel: PrimitiveDateTime = diesel::select(sql::<Timestamp>(text))
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(read, StoredTime(diesel), "{text}");
        }
        // No such date: refused, with Diesel's own error.
        let bad = "'2026-13-04 20:11:43'";
        let error = diesel::select(sql::<Timestamp>(bad))
            .get_result::<StoredTime>(&mut conn)
            .unwrap_err();
        let diesel = diesel::select(sql::<Timestamp>(bad))
            .get_result::<PrimitiveDateTime>(&mut conn)
            .unwrap_err();
        assert!(
            matches!(error, diesel::result::Error::DeserializationError(_)),
            "{error:?}"
        );
        assert_eq!(format!("{error:?}"), format!("{diesel:?}"));
    }
}
