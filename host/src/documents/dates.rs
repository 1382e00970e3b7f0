//! Dates on the command line and in listings, in UTC: `2026-11-23` or `2026-11-23T14:05:00Z`.
//! The calendar is jiff's: it is strict about real dates (2026-02-30 is refused) and its
//! strftime-style parser takes exactly the forms listed below.

use jiff::civil::DateTime;
use jiff::fmt::strtime;
use jiff::tz::Offset;
use jiff::Timestamp;

/// The forms `parse` accepts, tried in order. A time may end in `Z`, which changes nothing since
/// every date here is UTC; month, day, hour and minute may have one digit.
const FORMS: [&str; 3] = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"];

/// Unix milliseconds of a date (midnight UTC) or date-time.
pub fn parse(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a date: use 2026-11-23 or 2026-11-23T14:05:00Z");
    let bare = match text.strip_suffix('Z') {
        Some(bare) if bare.contains('T') => bare,
        _ => text,
    };
    let datetime = FORMS
        .iter()
        .find_map(|form| civil(form, bare))
        .ok_or_else(bad)?;
    let timestamp = Offset::UTC.to_timestamp(datetime).map_err(|_| bad())?;
    Ok(timestamp.as_millisecond())
}

/// The date-time `text` gives in `form`, midnight when the form has no time.
fn civil(form: &str, text: &str) -> Option<DateTime> {
    let parsed = strtime::parse(form, text).ok()?;
    if form.contains('T') {
        parsed.to_datetime().ok()
    } else {
        Some(
            parsed
                .to_date()
                .ok()?
                .to_datetime(jiff::civil::Time::midnight()),
        )
    }
}

/// `2026-11-23T14:05:00Z` for unix milliseconds (seconds truncated).
pub fn format(millis: i64) -> String {
    // jiff's range is the years -9999 to 9999; a stored time is never near either end, so one
    // outside is shown at the end it passed rather than failing a whole listing.
    let timestamp = Timestamp::from_millisecond(millis).unwrap_or(if millis < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(parse("1970-01-01").unwrap(), 0);
        let t = parse("2026-11-23T14:05:09Z").unwrap();
        assert_eq!(format(t), "2026-11-23T14:05:09Z");
        assert_eq!(format(parse("2024-02-29").unwrap()), "2024-02-29T00:00:00Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59Z");
        assert!(parse("2026-13-01").is_err());
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn accepts_every_form_it_always_took() {
        let noon = parse("2026-11-23T12:00:00Z").unwrap();
        for form in [
            "2026-11-23T12:00:00",
            "2026-11-23T12:00Z",
            "2026-11-23T12:00",
            "2026-11-23T12:0:0Z",
        ] {
            assert_eq!(parse(form), Ok(noon), "{form}");
        }
        let day = parse("2026-01-05").unwrap();
        assert_eq!(parse("2026-1-5"), Ok(day));
        assert_eq!(day, noon - 322 * 86_400_000 - 12 * 3_600_000);
    }

    #[test]
    fn refuses_what_is_not_a_date_with_the_forms_to_use() {
        for bad in [
            "2026-02-30",
            "2026-11-23Z",
            "2026-11-23T24:00",
            "2026-11-23T12",
            "2026-11-23T12:00:00+02:00",
            "2026-11-23 12:00",
            "2026-11-23T12:00:00Zjunk",
            "",
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(
                error,
                format!("`{bad}` is not a date: use 2026-11-23 or 2026-11-23T14:05:00Z")
            );
        }
    }
}
