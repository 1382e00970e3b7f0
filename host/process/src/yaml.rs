//! YAML parsed once into a `serde_json::Value`, with an index from JSON pointers to the
//! line and column where each node was written, so any later check (ours or a plugin's) can
//! point at the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::Diagnostic;
use crate::pointer;
use crate::yaml_scalar::resolve_plain;

/// A parsed YAML file: its value and where each node sits in the text.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    file: PathBuf,
    value: Value,
    /// Pointer -> 1-based (line, column). A mapping entry is indexed at its key (that is where
    /// users look for `directory:`), a sequence item or the root at the start of its value.
    positions: HashMap<String, (usize, usize)>,
}

impl YamlDoc {
    /// Parses one YAML document. Syntax errors, duplicate keys, non-scalar keys and a second
    /// document in the same file are reported with their line and column.
    pub fn parse(text: &str, file: &Path) -> Result<YamlDoc, Diagnostic> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let scan = parser.load(&mut builder, true);
        // Our own error was found at an earlier event than anything the parser saw afterwards.
        if let Some((line, column, message)) = builder.error {
            return Err(located(file, line, column, message));
        }
        if let Err(e) = scan {
            let m = e.marker();
            let (line, column) = position_of(m);
            return Err(located(file, line, column, e.info().to_string()));
        }
        Ok(YamlDoc {
            file: file.to_path_buf(),
            value: builder.root.unwrap_or(Value::Null),
            positions: builder.positions,
        })
    }

    /// The parsed document.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The file this document was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// 1-based line and column of the node at `pointer`, or of its nearest ancestor that was
    /// written in the file (a missing field, or a node inside an alias, has no position itself).
    pub fn position(&self, pointer: &str) -> Option<(usize, usize)> {
        let normalized = pointer::normalize(pointer);
        let mut p: &str = &normalized;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            p = pointer::parent(p)?;
        }
    }

    /// A diagnostic at `pointer`, with the field rendered as `a.b[2].c`.
    pub fn diagnostic(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        let position = self.position(pointer);
        Diagnostic {
            file: self.file.clone(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            field: pointer::render_field(&self.value, pointer),
            message: message.into(),
        }
    }
}

fn located(file: &Path, line: usize, column: usize, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: Some(line),
        column: Some(column),
        field: String::new(),
        message,
    }
}

/// yaml-rust2 markers have a 1-based line and a 0-based column; diagnostics use 1-based both.
fn position_of(mark: &Marker) -> (usize, usize) {
    (mark.line(), mark.col() + 1)
}

enum Container {
    Seq(Vec<Value>),
    /// `key` holds the key read and waiting for its value.
    Map {
        map: Map<String, Value>,
        key: Option<String>,
    },
}

struct Frame {
    container: Container,
    pointer: String,
    anchor: usize,
    /// Nodes inside this container so far.
    size: usize,
    /// A block mapping's start event is marked after its first key, so the position of a
    /// mapping is settled when that key arrives: the earlier of the two marks wins.
    deferred: Option<Marker>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    /// Anchored values with their size in nodes.
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes copied in by aliases so far; see [`MAX_ALIAS_NODES`].
    alias_nodes: usize,
    positions: HashMap<String, (usize, usize)>,
    documents: usize,
    /// The first problem found; later events are ignored.
    error: Option<(usize, usize, String)>,
}

/// Aliases copy values, so a few lines of nested aliases ("billion laughs") could expand to
/// more memory than the machine has. No real deployment file comes near this.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// Where the next node goes.
enum Slot {
    Key,
    Value(String),
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: String) {
        let (line, column) = position_of(&mark);
        self.error = Some((line, column, message));
    }

    fn slot(&self) -> Slot {
        match self.stack.last() {
            None => Slot::Value(String::new()),
            Some(Frame {
                container: Container::Seq(items),
                pointer,
                ..
            }) => Slot::Value(pointer::join(pointer, &items.len().to_string())),
            Some(Frame {
                container: Container::Map { key: None, .. },
                ..
            }) => Slot::Key,
            Some(Frame {
                container: Container::Map { key: Some(k), .. },
                pointer,
                ..
            }) => Slot::Value(pointer::join(pointer, k)),
        }
    }

    /// Places a finished value in its parent (or as the root).
    fn attach(&mut self, value: Value, size: usize) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(frame) => {
                frame.size += size;
                match &mut frame.container {
                    Container::Seq(items) => items.push(value),
                    Container::Map { map, key } => {
                        if let Some(k) = key.take() {
                            map.insert(k, value);
                        }
                    }
                }
            }
        }
    }

    /// Records the position of a node about to be attached at `pointer`; mapping values were
    /// already indexed at their key.
    fn note_value_position(&mut self, pointer: &str, mark: &Marker) {
        if self.needs_position() {
            self.positions
                .insert(pointer.to_string(), position_of(mark));
        }
    }

    /// Whether the next value needs its own position (it does unless it is a mapping value).
    fn needs_position(&self) -> bool {
        !matches!(
            self.stack.last(),
            Some(Frame {
                container: Container::Map { .. },
                ..
            })
        )
    }

    fn key(&mut self, text: String, mark: Marker) {
        let Some(Frame {
            container: Container::Map { map, key },
            pointer: parent,
            deferred,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        if let Some(start) = deferred.take() {
            let first = if mark.index() < start.index() {
                mark
            } else {
                start
            };
            self.positions.insert(parent.clone(), position_of(&first));
        }
        let child = pointer::join(parent, &text);
        if map.contains_key(&text) {
            let first = self
                .positions
                .get(&child)
                .map(|(l, _)| format!(" (first at line {l})"))
                .unwrap_or_default();
            self.fail(mark, format!("duplicate key `{text}`{first}"));
            return;
        }
        *key = Some(text);
        self.positions.insert(child, position_of(&mark));
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<Tag>,
        mark: Marker,
    ) {
        match self.slot() {
            Slot::Key => self.key(text, mark),
            Slot::Value(ptr) => {
                let value = if style == TScalarStyle::Plain && !is_str_tag(tag.as_ref()) {
                    resolve_plain(&text)
                } else {
                    Value::String(text)
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                self.note_value_position(&ptr, &mark);
                self.attach(value, 1);
            }
        }
    }

    fn start(&mut self, container: Container, anchor: usize, mark: Marker) {
        match self.slot() {
            Slot::Key => self.fail(
                mark,
                "mapping keys must be plain text, not a list or mapping".into(),
            ),
            Slot::Value(ptr) => {
                let is_map = matches!(container, Container::Map { .. });
                let mut deferred = None;
                if is_map && self.needs_position() {
                    deferred = Some(mark);
                } else {
                    self.note_value_position(&ptr, &mark);
                }
                self.stack.push(Frame {
                    container,
                    pointer: ptr,
                    anchor,
                    size: 1,
                    deferred,
                });
            }
        }
    }

    fn end(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if let Some(start) = frame.deferred {
            self.positions
                .insert(frame.pointer.clone(), position_of(&start));
        }
        let value = match frame.container {
            Container::Seq(items) => Value::Array(items),
            Container::Map { map, .. } => Value::Object(map),
        };
        if frame.anchor > 0 {
            self.anchors
                .insert(frame.anchor, (value.clone(), frame.size));
        }
        self.attach(value, frame.size);
    }

    fn alias(&mut self, id: usize, mark: Marker) {
        let Some(&(_, size)) = self.anchors.get(&id) else {
            self.fail(mark, "alias to an unknown anchor".into());
            return;
        };
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            self.fail(
                mark,
                format!("aliases expand to more than {MAX_ALIAS_NODES} values"),
            );
            return;
        }
        let value = self.anchors[&id].0.clone();
        match self.slot() {
            Slot::Key => match value {
                Value::String(s) => self.key(s, mark),
                _ => self.fail(
                    mark,
                    "an alias used as a mapping key must name a string".into(),
                ),
            },
            Slot::Value(ptr) => {
                self.note_value_position(&ptr, &mark);
                self.attach(value, size);
            }
        }
    }
}

fn is_str_tag(tag: Option<&Tag>) -> bool {
    tag.is_some_and(|t| t.suffix == "str" && (t.handle == "!!" || t.handle == "tag:yaml.org,2002:"))
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        mark,
                        "a second YAML document (`---`) in one file; put each process or connection in its own file".into(),
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => self.scalar(text, style, anchor, tag, mark),
            Event::SequenceStart(anchor, _) => self.start(Container::Seq(Vec::new()), anchor, mark),
            Event::MappingStart(anchor, _) => self.start(
                Container::Map {
                    map: Map::new(),
                    key: None,
                },
                anchor,
                mark,
            ),
            Event::SequenceEnd | Event::MappingEnd => self.end(),
            Event::Alias(id) => self.alias(id, mark),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}
