//! A small reader of the text exposition format, for tests, so they check values rather than
//! grep strings. No maintained crate does this job: `prometheus-parse` cuts label sets at the
//! first `}` (a disposition text may hold one) and `openmetrics-parser` is LGPL and unmaintained.
//! Beyond reading, it refuses what Prometheus would: a sample before its family's `# TYPE`, a bad
//! escape, a raw line feed in a label value, and a histogram whose buckets do not add up.

use std::collections::HashMap;

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
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| at("no type".into()))?;
            types.insert(name, kind);
        } else if !line.starts_with('#') {
            let sample = parse_sample(line).map_err(at)?;
            family_of(&sample.name, &types).ok_or_else(|| at("sample before its TYPE".into()))?;
            samples.push(sample);
        }
    }
    check_histograms(&samples, &types)?;
    Ok(samples)
}

/// The family a sample belongs to: its own name, or a histogram's name without `_bucket`,
/// `_sum` or `_count`.
fn family_of<'a>(name: &'a str, types: &HashMap<&str, &str>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| types.get(base) == Some(&"histogram"))
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let mut rest = line[name_end..].chars();
    let mut labels = Vec::new();
    if line[name_end..].starts_with('{') {
        rest.next();
        loop {
            let label: String = rest.by_ref().take_while(|c| *c != '=').collect();
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {label:?}"));
            }
            if rest.next() != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match rest.next().ok_or("unterminated label value")? {
                    '"' => break,
                    '\n' => return Err("raw line feed in label value".into()),
                    '\\' => match rest.next() {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    c => value.push(c),
                }
            }
            labels.push((label, value));
            match rest.next() {
                Some(',') => {}
                Some('}') => break,
                _ => return Err("expected , or } after a label".into()),
            }
        }
    }
    let value = rest
        .as_str()
        .strip_prefix(' ')
        .ok_or("no space before the value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        v if v.contains("inf") || v.contains("nan") => return Err(format!("bad value {v}")),
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    Ok(Sample {
        name: line[..name_end].to_string(),
        labels,
        value,
    })
}

/// A histogram series: its family and its labels other than `le`.
type SeriesKey = (String, Vec<(String, String)>);

/// Each histogram series: `le` bounds ascending, ending in `+Inf`; counts cumulative; the
/// `+Inf` bucket equal to `_count`.
fn check_histograms(samples: &[Sample], types: &HashMap<&str, &str>) -> Result<(), String> {
    let mut series: HashMap<SeriesKey, Vec<(f64, f64)>> = HashMap::new();
    let mut counts = HashMap::new();
    for s in samples {
        let Some(family) = family_of(&s.name, types).filter(|f| types[f] == "histogram") else {
            continue;
        };
        let others = s.labels.iter().filter(|(n, _)| n != "le").cloned();
        let key = (family.to_string(), others.collect());
        if s.name.ends_with("_bucket") {
            let le = match s.label("le").ok_or("bucket without le")? {
                "+Inf" => f64::INFINITY,
                le => le.parse().map_err(|_| "bad le")?,
            };
            series.entry(key).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(key, s.value);
        }
    }
    for (key, buckets) in &series {
        let ascending = buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        let last = buckets.last().copied().unwrap_or_default();
        if !ascending || last.0 != f64::INFINITY || counts.get(key) != Some(&last.1) {
            return Err(format!(
                "{key:?}: buckets not cumulative or not matching _count"
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
        for bad in [
            "m 1\n",                                                    // no TYPE
            "# TYPE m counter\nm{a=\"x\n\"} 1\n",                       // raw line feed in a value
            "# TYPE m counter\nm{a=\"\\t\"} 1\n",                       // unknown escape
            "# TYPE m counter\nm{a=x} 1\n",                             // unquoted
            "# TYPE m counter\nm inf\n",                                // Rust's infinity spelling
            "# TYPE m counter\nm 1",                                    // no final line feed
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n", // +Inf != count
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
        let good = parse("# TYPE m counter\nm{a=\"\\\\\\\"\\n}\",b=\"\"} 1.5\n").unwrap();
        assert_eq!(good[0].label("a"), Some("\\\"\n}"));
        assert_eq!(good[0].label("b"), Some(""));
        assert_eq!(good[0].value, 1.5);
    }
}
