//! Document properties: tracked ones set by connectors and dynamic ones set by steps.

use std::collections::BTreeMap;

/// Name -> value properties of one document. Ordered so that logs and tests are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(pub BTreeMap<String, String>);

impl Properties {
    pub fn new() -> Self {
        Properties(BTreeMap::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets a property, replacing any previous value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl From<BTreeMap<String, String>> for Properties {
    fn from(map: BTreeMap<String, String>) -> Self {
        Properties(map)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Properties(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
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
    fn names() {
        assert!(is_valid_property_name("as2.from"));
        assert!(is_valid_property_name("file_name-2"));
        assert!(!is_valid_property_name(""));
        assert!(!is_valid_property_name("a b"));
        assert!(!is_valid_property_name("a:b"));
        assert!(!is_valid_property_name("a}"));
    }
}
