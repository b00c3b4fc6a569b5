//! A venue's time zone when the source only gives a country (setlist.fm venues have coordinates and a
//! country code but no zone). Countries whose venues are (nearly) all in one zone map to it; the rest
//! (US, CA, AU, BR, RU, MX, ...) get UTC, and a moderator corrects the venue. Show times of new venues
//! are 20:00 local, so a wrong zone shifts a time, never a date.

const MAIN_ZONE: &[(&str, &str)] = &[
    ("AE", "Asia/Dubai"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("AT", "Europe/Vienna"),
    ("BE", "Europe/Brussels"),
    ("BG", "Europe/Sofia"),
    ("CH", "Europe/Zurich"),
    ("CL", "America/Santiago"),
    ("CN", "Asia/Shanghai"),
    ("CO", "America/Bogota"),
    ("CR", "America/Costa_Rica"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DK", "Europe/Copenhagen"),
    ("EE", "Europe/Tallinn"),
    ("ES", "Europe/Madrid"),
    ("FI", "Europe/Helsinki"),
    ("FR", "Europe/Paris"),
    ("GB", "Europe/London"),
    ("GR", "Europe/Athens"),
    ("HK", "Asia/Hong_Kong"),
    ("HR", "Europe/Zagreb"),
    ("HU", "Europe/Budapest"),
    ("IE", "Europe/Dublin"),
    ("IL", "Asia/Jerusalem"),
    ("IN", "Asia/Kolkata"),
    ("IS", "Atlantic/Reykjavik"),
    ("IT", "Europe/Rome"),
    ("JP", "Asia/Tokyo"),
    ("KR", "Asia/Seoul"),
    ("LT", "Europe/Vilnius"),
    ("LU", "Europe/Luxembourg"),
    ("LV", "Europe/Riga"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("NL", "Europe/Amsterdam"),
    ("NO", "Europe/Oslo"),
    ("NZ", "Pacific/Auckland"),
    ("PE", "America/Lima"),
    ("PH", "Asia/Manila"),
    ("PL", "Europe/Warsaw"),
    ("PR", "America/Puerto_Rico"),
    ("PT", "Europe/Lisbon"),
    ("RO", "Europe/Bucharest"),
    ("RS", "Europe/Belgrade"),
    ("SE", "Europe/Stockholm"),
    ("SG", "Asia/Singapore"),
    ("SI", "Europe/Ljubljana"),
    ("SK", "Europe/Bratislava"),
    ("TH", "Asia/Bangkok"),
    ("TR", "Europe/Istanbul"),
    ("TW", "Asia/Taipei"),
    ("UA", "Europe/Kyiv"),
    ("UY", "America/Montevideo"),
    ("ZA", "Africa/Johannesburg"),
];

/// The main IANA zone of a country (ISO 3166-1 alpha-2), or UTC.
pub(crate) fn for_country(code: &str) -> &'static str {
    let code = code.trim().to_ascii_uppercase();
    MAIN_ZONE.iter().find(|(c, _)| *c == code).map(|(_, z)| *z).unwrap_or("UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zone_is_known_to_chrono_tz() {
        for (country, zone) in MAIN_ZONE {
            assert!(zone.parse::<chrono_tz::Tz>().is_ok(), "{country}: {zone}");
        }
        assert_eq!(for_country("gb"), "Europe/London");
        assert_eq!(for_country("US"), "UTC");
    }
}
