//! Document properties: tracked ones set by connectors and dynamic ones set by steps.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// Name -> value properties of one document, ordered by name so that logs and tests are stable.
///
/// Every name and value lives in one string, indexed by a sorted list: a document arrives with
/// a dozen properties and is gone a few microseconds later, and a map of separately allocated
/// strings made building them the largest cost of a small request. A replaced value leaves its
/// old bytes in place; a document's properties are few and short-lived, so nothing compacts.
#[derive(Clone, Default)]
pub struct Properties {
    text: String,
    /// Sorted by name, names unique.
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: Range<usize>,
    value: Range<usize>,
}

impl Properties {
    pub fn new() -> Self {
        Properties::default()
    }

    /// Properties from borrowed pairs, copied into one buffer; a later pair with the same name
    /// replaces an earlier one.
    pub fn from_strs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let size: usize = pairs
            .clone()
            .into_iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        let mut properties = Properties {
            text: String::with_capacity(size),
            entries: Vec::new(),
        };
        for (name, value) in pairs {
            let name = properties.push(name);
            let value = properties.push(value);
            properties.entries.push(Entry { name, value });
        }
        properties.sort_and_dedup();
        properties
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name)
            .ok()
            .map(|i| &self.text[self.entries[i].value.clone()])
    }

    /// Sets a property, replacing any previous value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        let value = self.push(&value);
        match self.find(&name) {
            Ok(i) => self.entries[i].value = value,
            Err(i) => {
                let name = self.push(&name);
                self.entries.insert(i, Entry { name, value });
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.find(name).ok()?;
        let entry = self.entries.remove(i);
        Some(self.text[entry.value].to_string())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (&self.text[e.name.clone()], &self.text[e.value.clone()]))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|e| self.text[e.name.clone()].cmp(name))
    }

    fn push(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    /// Sorts by name and keeps the last of equal names, as inserting one by one would.
    fn sort_and_dedup(&mut self) {
        let text = &self.text;
        // Stable: of equal names, the later stays later.
        self.entries
            .sort_by(|a, b| text[a.name.clone()].cmp(&text[b.name.clone()]));
        // `dedup_by` keeps the first of a run; swapping hands it the later value instead.
        self.entries.dedup_by(|later, kept| {
            let same = text[later.name.clone()] == text[kept.name.clone()];
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Properties {}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<BTreeMap<String, String>> for Properties {
    fn from(map: BTreeMap<String, String>) -> Self {
        Properties::from_strs(map.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut properties = Properties::new();
        for (name, value) in iter {
            let (name, value): (String, String) = (name.into(), value.into());
            let name = properties.push(&name);
            let value = properties.push(&value);
            properties.entries.push(Entry { name, value });
        }
        properties.sort_and_dedup();
        properties
    }
}

/// Property names are letters, digits, `.`, `_` and `-`: enough for `as2.from` or `file_name`,
/// and nothing that could be mistaken for template syntax.
pub fn is_valid_property_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_iter() {
        let mut p = Properties::new();
        assert!(p.is_empty());
        p.set("b", "2");
        p.set("a", "1");
        p.set("a", "3");
        assert_eq!(p.get("a"), Some("3"));
        assert_eq!(p.get("zz"), None);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
        assert_eq!(p.remove("b").as_deref(), Some("2"));
        assert_eq!(p.len(), 1);
        let q: Properties = [("a", "3")].into_iter().collect();
        assert_eq!(p, q);
    }

    #[test]
    fn later_pairs_win_and_order_is_by_name() {
        let p = Properties::from_strs([("b", "1"), ("a", "2"), ("b", "3"), ("c", "")]);
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [("a", "2"), ("b", "3"), ("c", "")]
        );
        let q: Properties = [("b", "1"), ("a", "2"), ("b", "3"), ("c", "")]
            .into_iter()
            .collect();
        assert_eq!(p, q);
        let mut r = p.clone();
        r.set("b", "4");
        r.set("0", "first");
        assert_eq!(r.get("b"), Some("4"));
        assert_eq!(r.iter().next(), Some(("0", "first")));
        assert_eq!(
            format!("{r:?}"),
            r#"{"0": "first", "a": "2", "b": "4", "c": ""}"#
        );
        assert_eq!(r.into_inner().len(), 4);
    }

    #[test]
    fn names() {
        assert!(is_valid_property_name("as2.from"));
        assert!(is_valid_property_name("file_name-2"));
        assert!(!is_valid_property_name(""));
        assert!(!is_valid_property_name("a b"));
        assert!(!is_valid_property_name("a:b"));
        assert!(!is_valid_property_name("a}"));
    }
}
