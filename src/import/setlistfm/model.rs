//! setlist.fm API 1.0 JSON, read leniently.
//!
//! Shapes seen in real responses and accepted here:
//! - a setlist's sets as `"sets": {"set": [...]}` (current API), as a bare `"set": [...]` (the
//!   documentation's example), as `"sets": {"set": {...}}` (one set, older responses) or as `"sets": ""`
//!   or `{}` (no songs yet);
//! - `song` as an array or a single object; `encore` as a number or a numeric string;
//! - coordinates as numbers or numeric strings; `tape` as a boolean or "true"/"false".
//!
//! A search result is `{type, itemsPerPage, page, total, setlist: [...]}`.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setlist {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub event_date: String,
    #[serde(default)]
    pub artist: Option<Artist>,
    #[serde(default)]
    pub venue: Option<Venue>,
    #[serde(default)]
    pub tour: Option<Tour>,
    #[serde(default, deserialize_with = "sets_wrapper")]
    pub sets: Vec<Set>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub set: Vec<Set>,
    #[serde(default)]
    pub url: String,
}

impl Setlist {
    /// The sets, whichever of the two shapes the document used.
    pub fn all_sets(&self) -> &[Set] {
        if self.sets.is_empty() { &self.set } else { &self.sets }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artist {
    #[serde(default)]
    pub mbid: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Venue {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub city: Option<City>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct City {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub coords: Option<Coords>,
    #[serde(default)]
    pub country: Option<Country>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Coords {
    #[serde(default, deserialize_with = "lenient_f64")]
    pub lat: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub long: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Country {
    #[serde(default)]
    pub code: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tour {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Set {
    #[serde(default, deserialize_with = "lenient_i64")]
    pub encore: Option<i64>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub song: Vec<Song>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Song {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub info: String,
    #[serde(default)]
    pub cover: Option<Artist>,
    #[serde(default)]
    pub with: Option<Artist>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub tape: bool,
}

/// `GET /search/setlists`, `GET /artist/{mbid}/setlists`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetlistPage {
    #[serde(default)]
    pub items_per_page: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default, deserialize_with = "one_or_many")]
    pub setlist: Vec<Setlist>,
}

impl SetlistPage {
    /// Pages in the whole result (at least 1).
    pub fn pages(&self) -> i64 {
        if self.items_per_page <= 0 { 1 } else { ((self.total + self.items_per_page - 1) / self.items_per_page).max(1) }
    }
}

fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    list_from_value(Value::deserialize(d)?).map_err(D::Error::custom)
}

fn list_from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<Vec<T>, serde_json::Error> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(serde_json::from_value).collect(),
        Value::Object(_) => Ok(vec![serde_json::from_value(v)?]),
        other => Err(serde_json::Error::custom(format!("expected a list or an object, found {other}"))),
    }
}

fn sets_wrapper<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Set>, D::Error> {
    match Value::deserialize(d)? {
        Value::Object(mut map) => match map.remove("set") {
            Some(v) => list_from_value(v).map_err(D::Error::custom),
            None => Ok(Vec::new()),
        },
        other => list_from_value(other).map_err(D::Error::custom),
    }
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("`{s}` is not a number"))),
        other => Err(D::Error::custom(format!("expected a number, found {other}"))),
    }
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => {
            n.as_i64().map(Some).ok_or_else(|| D::Error::custom(format!("`{n}` is not a whole number")))
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            s.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("`{s}` is not a whole number")))
        }
        other => Err(D::Error::custom(format!("expected a number, found {other}"))),
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        Value::String(s) => match s.trim() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            other => Err(D::Error::custom(format!("`{other}` is not true or false"))),
        },
        other => Err(D::Error::custom(format!("expected true or false, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_set_shapes_and_old_quirks() {
        let wrapped: Setlist = serde_json::from_str(
            r#"{"id":"1","eventDate":"01-02-2020","sets":{"set":[{"song":[{"name":"A"},{"name":"","tape":true}]},
               {"encore":1,"song":[{"name":"B","cover":{"name":"X"}}]}]}}"#,
        )
        .unwrap();
        assert_eq!(wrapped.all_sets().len(), 2);
        assert_eq!(wrapped.all_sets()[1].encore, Some(1));
        assert_eq!(wrapped.all_sets()[1].song[0].cover.as_ref().unwrap().name, "X");

        let bare: Setlist =
            serde_json::from_str(r#"{"id":"2","set":[{"name":"Main","song":[{"name":"A","info":"acoustic"}]}]}"#)
                .unwrap();
        assert_eq!(bare.all_sets()[0].song[0].info, "acoustic");

        let old: Setlist = serde_json::from_str(
            r#"{"id":"3","sets":{"set":{"encore":"2","song":{"name":"Only","tape":"true"}}},
               "venue":{"name":"V","city":{"name":"C","coords":{"lat":"37.5","long":"-122.25"}}}}"#,
        )
        .unwrap();
        let set = &old.all_sets()[0];
        assert_eq!(set.encore, Some(2));
        assert!(set.song[0].tape);
        let coords = old.venue.unwrap().city.unwrap().coords.unwrap();
        assert_eq!((coords.lat, coords.long), (Some(37.5), Some(-122.25)));

        let empty: Setlist = serde_json::from_str(r#"{"id":"4","sets":""}"#).unwrap();
        assert!(empty.all_sets().is_empty());
        let empty: Setlist = serde_json::from_str(r#"{"id":"5","sets":{}}"#).unwrap();
        assert!(empty.all_sets().is_empty());
    }

    #[test]
    fn page_count() {
        let p = SetlistPage { items_per_page: 20, total: 41, ..Default::default() };
        assert_eq!(p.pages(), 3);
        assert_eq!(SetlistPage::default().pages(), 1);
    }
}
