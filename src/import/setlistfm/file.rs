//! `mysetlist import setlistfm --file F.json`: a saved setlist.fm API response (one setlist, a search
//! result page, or a JSON array of setlists) into the catalog.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::apply::{Prepared, SkipReason, Target, apply_and_count_plays, prepare};
use super::model::Setlist;
use crate::domain::Domain;
use crate::import::batch::{CHUNK, each_in_savepoint};
use crate::import::report::{Entry, Kind};
use crate::import::{ImportError, Progress, Report};

/// One setlist of the input and where it is.
pub(crate) struct Located {
    pub at: String,
    pub label: String,
    pub setlist: Result<Setlist, SkipReason>,
}

/// 1-based line of a slice of `text` (a borrowed RawValue points into it).
pub(crate) fn line_of(text: &str, part: &str) -> usize {
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    text[..offset].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Splits a document into its setlists, each parsed on its own so that one malformed setlist is
/// skipped with a reason instead of failing the whole file.
pub(crate) fn parse_document(text: &str) -> Result<Vec<Located>, ImportError> {
    let top: &RawValue =
        serde_json::from_str(text).map_err(|e| ImportError::Input(format!("the file is not valid JSON: {e}")))?;
    let raw = top.get().trim_start();
    let items: Vec<&RawValue> = if raw.starts_with('[') {
        serde_json::from_str(top.get()).map_err(|e| ImportError::Input(format!("not a list of setlists: {e}")))?
    } else if raw.starts_with('{') {
        let map: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(top.get()).map_err(|e| ImportError::Input(format!("not a JSON object: {e}")))?;
        if let Some(list) = map.get("setlist") {
            if list.get().trim_start().starts_with('[') {
                serde_json::from_str(list.get())
                    .map_err(|e| ImportError::Input(format!("`setlist` is not a list: {e}")))?
            } else {
                vec![*list]
            }
        } else if ["eventDate", "artist", "sets", "set"].iter().any(|k| map.contains_key(*k)) {
            vec![top]
        } else {
            return Err(ImportError::Input(
                "this is not setlist.fm data: expected a setlist (with `eventDate`) or a search result \
                 (with `setlist: [...]`)"
                    .into(),
            ));
        }
    } else {
        return Err(ImportError::Input("expected a JSON object or array of setlist.fm setlists".into()));
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let at = format!("line {}", line_of(text, raw.get()));
            let setlist = serde_json::from_str::<Setlist>(raw.get()).map_err(SkipReason::NotASetlist);
            let label = match &setlist {
                Ok(s) if !s.id.is_empty() => format!("setlist.fm {}", s.id),
                _ => format!("setlist #{}", i + 1),
            };
            Located { at, label, setlist }
        })
        .collect())
}

/// Applies prepared setlists in chunks (one transaction each, one savepoint per setlist).
pub(crate) async fn apply_all(
    domain: &Arc<Domain>,
    items: Vec<(String, Prepared)>,
    actor: Option<i64>,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<(), ImportError> {
    for chunk in items.chunks(CHUNK) {
        let work: Vec<Prepared> = chunk.iter().map(|(_, p)| p.clone()).collect();
        let now = domain.now();
        let results = domain
            .import_batch(move |c| {
                each_in_savepoint(c, &work, |c, p| apply_and_count_plays(c, p, Target::Match, actor, now))
            })
            .await?;
        for ((at, p), result) in chunk.iter().zip(results) {
            match result {
                Ok(applied) => {
                    for mut e in applied.entries {
                        if e.kind == Kind::Setlist {
                            e.at = Some(at.clone());
                        }
                        report.push(e);
                    }
                    if let Some(show_id) = applied.stored_show {
                        domain.ranking_changed(show_id);
                    }
                }
                Err(e) => report.push(Entry::skipped(Kind::Setlist, &p.label, at, e.to_string())),
            }
        }
        progress.advance(chunk.len() as u64);
    }
    Ok(())
}

/// Imports a setlist.fm JSON document. `actor` is the admin (None: the command line).
pub async fn import_json(
    domain: &Arc<Domain>,
    text: &str,
    actor: Option<i64>,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let mut report = Report::default();
    let mut ready = Vec::new();
    for item in parse_document(text)? {
        match item.setlist.and_then(|s| prepare(&s)) {
            Ok(p) => ready.push((item.at, p)),
            Err(reason) => report.push(Entry::skipped(Kind::Setlist, item.label, item.at, reason.to_string())),
        }
    }
    progress.phase("setlists", Some(ready.len() as u64));
    apply_all(domain, ready, actor, progress, &mut report).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_of_every_shape_with_lines() {
        let page = "{\"type\":\"setlists\",\"itemsPerPage\":20,\"page\":1,\"total\":2,\"setlist\":[\n{\"id\":\"a1\"},\n{\"id\":\"b2\"}]}";
        let items = parse_document(page).unwrap();
        assert_eq!(items.iter().map(|i| i.at.as_str()).collect::<Vec<_>>(), ["line 2", "line 3"]);
        assert_eq!(items[1].label, "setlist.fm b2");

        let single = parse_document("{\"id\":\"c3\",\"eventDate\":\"01-01-2024\"}").unwrap();
        assert_eq!(single.len(), 1);
        let list = parse_document("[{\"id\":\"d4\"}, 7]").unwrap();
        assert!(list[1].setlist.is_err());

        let err = parse_document("{\"artists\": []}").err().unwrap();
        assert!(err.to_string().contains("not setlist.fm data"), "{err}");
        let err = parse_document("{nope").err().unwrap();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}
