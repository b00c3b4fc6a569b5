//! The demo dataset (`mysetlist serve --demo`): fictional artists with real-looking catalogs, venues,
//! upcoming shows relative to today with votes, and past shows with actual setlists.

use super::catalog::tx;
use super::setlists::{ActualEntryInput, resolve_entries, store_actual};
use super::{Domain, DomainError, trending};
use crate::db::{self, Connection};

struct DemoArtist {
    name: &'static str,
    genres: &'static str,
    albums: &'static [(&'static str, &'static [&'static str])],
}

const ARTISTS: &[DemoArtist] = &[
    DemoArtist {
        name: "The Paper Lanterns",
        genres: "indie rock, dream pop",
        albums: &[
            (
                "Slow Harbour",
                &[
                    "Lighthouse Keeper",
                    "Salt in the Wires",
                    "Paper Moons",
                    "Undertow",
                    "Static Bloom",
                    "Harbour Lights",
                ],
            ),
            (
                "Night Ferry",
                &["Night Ferry", "Glass Coast", "Northbound", "Tidal Hymn", "Ember & Ash", "Last Crossing"],
            ),
        ],
    },
    DemoArtist {
        name: "Velvet Static",
        genres: "synth-pop, new wave",
        albums: &[
            (
                "Neon Psalms",
                &["Neon Psalm", "Cathode Heart", "Analog Kiss", "Midnight Signal", "Radio Silence", "Chrome Rain"],
            ),
            ("Afterglow Machines", &["Afterglow", "Machine Dreams", "Pulse", "Satellite Love", "Mirrorball", "Outrun"]),
        ],
    },
    DemoArtist {
        name: "Hollow Pines",
        genres: "folk, americana",
        albums: &[
            ("Cedar Smoke", &["Cedar Smoke", "River Mouth", "Old Lantern Road", "Wolf Moon", "Kindling", "Homeward"]),
            (
                "Quiet Acres",
                &["Quiet Acres", "Barn Swallow", "Dust Bowl Waltz", "Copper Creek", "Long Winter", "Porch Light"],
            ),
        ],
    },
    DemoArtist {
        name: "Kestrel Drive",
        genres: "alternative rock",
        albums: &[
            ("Overpass", &["Overpass", "Live Wire", "Gravity Well", "Signal Fire", "Runaway Train", "Concrete Bloom"]),
            ("High Tension", &["High Tension", "Fault Lines", "Headlights", "Wildfire", "Breakwater", "Thunderhead"]),
        ],
    },
];

const VENUES: &[(&str, &str, &str, &str, f64, f64)] = &[
    ("The Roundhouse", "London", "GB", "Europe/London", 51.5432, -0.1519),
    ("Paradiso", "Amsterdam", "NL", "Europe/Amsterdam", 52.3622, 4.8838),
    ("The Fillmore", "San Francisco", "US", "America/Los_Angeles", 37.7840, -122.4330),
    ("Columbiahalle", "Berlin", "DE", "Europe/Berlin", 52.4839, 13.3880),
    ("Massey Hall", "Toronto", "CA", "America/Toronto", 43.6540, -79.3790),
];

impl Domain {
    /// Loads the demo dataset into an empty database; does nothing if any artist exists.
    pub async fn load_demo(&self) -> Result<bool, DomainError> {
        let now = self.now();
        self.db.write(move |c| load(c, now)).await
    }

    /// `serve --demo`: the demo admin (made on first use, with no password) and a one-time link that
    /// sets its password and signs in, so voting and the admin pages can be tried at once.
    pub async fn demo_admin_link(&self) -> Result<super::ResetLink, DomainError> {
        let now = self.now();
        let id = self
            .db
            .write(move |c| -> Result<i64, DomainError> {
                match db::users::by_email(c, DEMO_ADMIN)? {
                    Some(u) => Ok(u.id),
                    None => Ok(db::users::insert(c, DEMO_ADMIN, "Demo admin", "", "admin", now)?),
                }
            })
            .await?;
        let admin = self.user(id).await?.ok_or(DomainError::NotFound("demo admin"))?;
        self.issue_reset_link(&admin, id).await
    }
}

/// The demo admin's address (`.invalid`: never a real mailbox).
pub const DEMO_ADMIN: &str = "admin@demo.invalid";

fn load(c: &Connection, now: i64) -> Result<bool, DomainError> {
    if !db::artists::none_yet(c)? {
        return Ok(false);
    }
    let mut venue_ids = Vec::new();
    for (name, city, country, tz, lat, lon) in VENUES {
        let v = db::venues::NewVenue {
            name: (*name).into(),
            city: (*city).into(),
            country: (*country).into(),
            timezone: (*tz).into(),
            latitude: Some(*lat),
            longitude: Some(*lon),
            ..Default::default()
        };
        venue_ids.push(tx::create_venue(c, v, None, now)?);
    }
    // Demo fans: accounts with an unusable password (empty hash never verifies).
    let mut fans = Vec::new();
    for i in 1..=12 {
        let id = db::users::insert(c, &format!("fan{i}@demo.invalid"), &format!("Demo fan {i}"), "", "user", now)?;
        fans.push(id);
    }
    let day = 86_400;
    for (ai, artist) in ARTISTS.iter().enumerate() {
        let a = db::artists::NewArtist { name: artist.name.into(), genres: artist.genres.into(), ..Default::default() };
        let artist_id = tx::create_artist(c, a, None, now)?;
        let mut song_ids = Vec::new();
        let mut popularity = 100;
        for (album, titles) in artist.albums {
            for title in *titles {
                let s = db::songs::NewSong {
                    artist_id,
                    title: (*title).into(),
                    album: (*album).into(),
                    popularity,
                    duration_s: Some(180 + (popularity % 90)),
                    ..Default::default()
                };
                song_ids.push(tx::create_song(c, s, None, now)?);
                popularity -= 7;
            }
        }
        let live = db::songs::NewSong {
            artist_id,
            title: format!("{} (Live)", artist.albums[0].1[0]),
            is_live: true,
            ..Default::default()
        };
        tx::create_song(c, live, None, now)?;

        // Two upcoming shows and one past show per artist, at 20:00 UTC.
        let base = now - now % day + 20 * 3600;
        for (k, offset_days) in [3 + ai as i64 * 2, 12 + ai as i64 * 5].into_iter().enumerate() {
            let venue_id = venue_ids[(ai + k) % venue_ids.len()];
            let show = db::shows::NewShow {
                artist_id,
                venue_id,
                starts_at: base + offset_days * day,
                status: db::shows::ShowStatus::Upcoming,
                ..Default::default()
            };
            let show_id = tx::create_show(c, show, None, now)?;
            for extra in song_ids.iter().skip(5).take(3) {
                db::songs::add_to_show(c, show_id, *extra, None, now)?;
            }
            cast_demo_votes(c, show_id, &song_ids[..8], &fans, (ai + k) as u64, now)?;
        }
        let venue_id = venue_ids[(ai + 2) % venue_ids.len()];
        let past = db::shows::NewShow {
            artist_id,
            venue_id,
            starts_at: base - (10 + ai as i64) * day,
            status: db::shows::ShowStatus::Upcoming,
            ..Default::default()
        };
        let show_id = tx::create_show(c, past, None, now - 30 * day)?;
        for extra in song_ids.iter().skip(5).take(4) {
            db::songs::add_to_show(c, show_id, *extra, None, now)?;
        }
        cast_demo_votes(c, show_id, &song_ids[..9], &fans, ai as u64 + 7, now - 12 * day)?;
        let played: Vec<ActualEntryInput> = song_ids
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + ai) % 3 != 1)
            .take(12)
            .enumerate()
            .map(|(pos, (_, id))| ActualEntryInput {
                title: String::new(),
                song_id: Some(*id),
                encore: if pos >= 10 { 1 } else { 0 },
                ..Default::default()
            })
            .collect();
        let mut played = played;
        for e in played.iter_mut() {
            e.title = db::songs::by_id(c, e.song_id.unwrap_or_default())?.map(|s| s.title).unwrap_or_default();
        }
        let entries = resolve_entries(c, artist_id, &played)?;
        store_actual(c, show_id, &entries, now)?;
    }
    Ok(true)
}

/// Deterministic pseudo-random votes so each demo show has a believable ranking.
fn cast_demo_votes(
    c: &Connection,
    show_id: i64,
    songs: &[i64],
    fans: &[i64],
    seed: u64,
    at: i64,
) -> Result<(), DomainError> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut total = 0;
    for (fi, fan) in fans.iter().enumerate() {
        for (si, song) in songs.iter().enumerate() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // Earlier (more popular) songs get more votes.
            let threshold = 80u64.saturating_sub(si as u64 * 8) + (fi as u64 % 3) * 5;
            if (state >> 33) % 100 < threshold {
                db::songs::add_to_show(c, show_id, *song, None, at)?;
                let voter = format!("u{fan}");
                let vote =
                    db::votes::Vote { show_id, song_id: *song, voter: &voter, user_id: Some(*fan), ip_hash: None, at };
                db::votes::toggle(c, &vote)?;
                total += 1;
            }
        }
    }
    let score = trending::after_vote(0.0, at, at, f64::from(total));
    db::shows::set_trend(c, show_id, score, at, i64::from(total))?;
    Ok(())
}
