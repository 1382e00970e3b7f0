//! A strict reader of the text exposition format, for tests: it rejects anything Prometheus would
//! reject (and a few things it merely frowns on), and hands back the samples so tests can check
//! values rather than grep strings.

use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `text`, or says which line is wrong and why.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line has no line feed".into());
    }
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new(); // families whose samples are behind us
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".into()))?;
            check_metric_name(name).map_err(at)?;
            if !helped.insert(name.to_string()) {
                return Err(at("second HELP".into()));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without kind".into()))?;
            check_metric_name(name).map_err(at)?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if types.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(at("second TYPE".into()));
            }
            if finished.contains(name) || current.as_deref() == Some(name) {
                return Err(at("TYPE after the family's samples".into()));
            }
        } else if line.starts_with('#') || line.trim().is_empty() {
            // Other comments and blank lines are allowed.
        } else {
            let sample = parse_sample(line).map_err(at)?;
            let family = family_of(&sample.name, &types)
                .ok_or_else(|| at("sample before its family's TYPE".into()))?;
            if current.as_deref() != Some(family.as_str()) {
                if finished.contains(&family) {
                    return Err(at("family's samples are not together".into()));
                }
                if let Some(previous) = current.replace(family.clone()) {
                    finished.insert(previous);
                }
            }
            samples.push(sample);
        }
    }
    check_histograms(&samples, &types)?;
    Ok(samples)
}

/// The family a sample belongs to: its own name, or for a histogram the name without `_bucket`,
/// `_sum` or `_count`.
fn family_of(name: &str, types: &HashMap<String, String>) -> Option<String> {
    if types.contains_key(name) {
        return Some(name.to_string());
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| types.get(*base).is_some_and(|k| k == "histogram"))
        .map(str::to_string)
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            // Label name up to '=' (or the closing brace for `{}` or a trailing comma).
            let start = chars.peek().map(|(i, _)| *i).ok_or("unterminated labels")?;
            if inner[start..].starts_with('}') {
                rest = &inner[start + 1..];
                break;
            }
            let eq = inner[start..].find('=').ok_or("label without =")? + start;
            let label = &inner[start..eq];
            let label_ok = label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !label_ok {
                return Err(format!("bad label name {label:?}"));
            }
            if labels.iter().any(|(n, _): &(String, String)| n == label) {
                return Err(format!("label {label} twice"));
            }
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars
                    .next()
                    .map(|(_, c)| c)
                    .ok_or("unterminated label value")?
                {
                    '"' => break,
                    '\n' => return Err("raw line feed in label value".into()),
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    c => value.push(c),
                }
            }
            labels.push((label.to_string(), value));
            match chars.peek().map(|(_, c)| *c) {
                Some(',') => {
                    chars.next();
                }
                Some('}') => {}
                _ => return Err("expected , or } after a label".into()),
            }
        }
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .split(' ');
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v if v.contains("inf") || v.contains("nan") => return Err(format!("bad value {v}")),
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().map_err(|_| "bad timestamp")?;
    }
    if fields.next().is_some() {
        return Err("trailing text".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// A histogram series: its family and its labels other than `le`.
type SeriesKey = (String, Vec<(String, String)>);

/// Each histogram series: `le` bounds ascending, ending in `+Inf`; counts cumulative; the
/// `+Inf` bucket equal to `_count`; and `_sum` present.
fn check_histograms(samples: &[Sample], types: &HashMap<String, String>) -> Result<(), String> {
    let mut series: HashMap<SeriesKey, Vec<(f64, f64)>> = HashMap::new();
    let mut counts = HashMap::new();
    let mut sums = HashSet::new();
    for s in samples {
        let Some(family) = family_of(&s.name, types).filter(|f| types[f] == "histogram") else {
            continue;
        };
        let others: Vec<_> = s
            .labels
            .iter()
            .filter(|(n, _)| n != "le")
            .cloned()
            .collect();
        let key = (family.clone(), others);
        if s.name.ends_with("_bucket") {
            let le = s.label("le").ok_or("bucket without le")?;
            let le: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().map_err(|_| "bad le")?
            };
            series.entry(key).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(key, s.value);
        } else {
            sums.insert(key);
        }
    }
    for (key, buckets) in &series {
        if !buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        {
            return Err(format!("{key:?}: buckets not ascending and cumulative"));
        }
        let last = buckets.last().copied().unwrap_or_default();
        if last.0 != f64::INFINITY || counts.get(key) != Some(&last.1) || !sums.contains(key) {
            return Err(format!(
                "{key:?}: +Inf bucket, _count or _sum missing or unequal"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn checker_rejects_broken_exposition() {
        let typed = "# TYPE m counter\n";
        for bad in [
            "m 1\n",                                             // no TYPE
            "# TYPE m counter\nm{a=\"x\n\"} 1\n",                // raw line feed in a value
            "# TYPE m counter\nm{a=\"\\t\"} 1\n",                // unknown escape
            "# TYPE m counter\nm{a=x} 1\n",                      // unquoted
            "# TYPE m counter\nm inf\n",                         // Rust's infinity spelling
            "# TYPE m counter\nm 1",                             // no final line feed
            "# TYPE m counter\n# TYPE n gauge\nm 1\nn 1\nm 2\n", // family split
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(parse(&format!("{typed}m{{a=\"\\\\\\\"\\n\"}} 1.5\n")).is_ok());
    }
}
