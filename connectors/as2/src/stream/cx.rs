//! What one pass over a streamed message carries from layer to layer: the keys and limits,
//! the digests to compute, the payload sink, and the security facts found, recorded as the
//! in-memory path records them (outermost layer first, nothing from inside a failed layer).

use std::io::Write;

use openssl::x509::X509;

use crate::disposition::ProcessingError;
use crate::envelope::Reopen;
use crate::mic::Mic;
use crate::micalg::MicAlg;
use crate::mime::MimePart;
use crate::unwrap::{Layer, Limits, UnwrapKeys};

use super::fail::Fail;

/// Digests a pass computes beyond those it always does.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// For the n-th signature (from the outside in): a digest of the signed content, and
    /// whether of its canonical form.
    pub signed: Vec<(usize, MicAlg, bool)>,
    /// The canonical digest of the outermost decrypted entity even when it is signed.
    pub decrypted: bool,
    /// The digest of the body as received even when it is an S/MIME structure.
    pub body: bool,
}

impl Plan {
    pub(crate) fn algs(&self, ordinal: usize, canonical: bool) -> Vec<MicAlg> {
        self.signed
            .iter()
            .filter(|(n, _, c)| *n == ordinal && *c == canonical)
            .map(|(_, alg, _)| *alg)
            .collect()
    }
}

/// The outermost verified signature.
#[derive(Debug, Clone)]
pub(crate) struct SignatureFacts {
    pub alg: MicAlg,
    pub signer: X509,
    /// The digest of what the signature covered, with its algorithm: the MIC.
    pub mic: Mic,
}

/// Security found so far (see `unwrap::Security`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub layers: Vec<Layer>,
    pub signature: Option<SignatureFacts>,
    /// The outermost decryption, with the canonical digest of its entity when computed.
    pub decrypted: Option<Option<Mic>>,
}

/// The innermost entity.
pub(crate) struct Payload {
    /// Its headers (no body).
    pub part: MimePart,
    pub len: u64,
    /// Removing its transfer encoding failed: reported only if nothing else failed.
    pub error: Option<String>,
}

pub(crate) struct Cx<'a> {
    pub keys: &'a UnwrapKeys<'a>,
    pub limits: &'a Limits,
    /// The digest the sender asked for its MIC.
    pub requested: MicAlg,
    pub plan: &'a Plan,
    pub sink: &'a mut dyn Write,
    /// The outermost structure opened again (for a GCM tag after authAttrs): only for the
    /// first layer.
    pub reopen: Option<Reopen<'a>>,
    /// The decryptor's limit: the plaintext is never longer than the body.
    pub max_content: usize,
    pub facts: Facts,
    pub payload: Option<Payload>,
    /// Digests a further pass must compute.
    pub needs: Vec<(usize, MicAlg, bool)>,
    next_id: usize,
    /// Layers entered, signatures entered, decryptions entered.
    pub depth: usize,
    pub signatures: usize,
    pub decryptions: usize,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        keys: &'a UnwrapKeys<'a>,
        limits: &'a Limits,
        requested: MicAlg,
        plan: &'a Plan,
        sink: &'a mut dyn Write,
        max_content: usize,
    ) -> Self {
        Cx {
            keys,
            limits,
            requested,
            plan,
            sink,
            reopen: None,
            max_content,
            facts: Facts::default(),
            payload: None,
            needs: Vec::new(),
            next_id: 0,
            depth: 0,
            signatures: 0,
            decryptions: 0,
        }
    }

    /// A new id, greater than every id given before (inner layers get greater ids).
    pub(crate) fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// Whether the layer being entered is the last one the depth limit lets us look into:
    /// the in-memory path removes `max_depth + 1` layers, then refuses without looking at
    /// what is inside.
    pub(crate) fn too_deep(&mut self) -> Option<Fail> {
        (self.depth > self.limits.max_depth).then(|| {
            let id = self.id();
            Fail::layer(
                id,
                ProcessingError::UnexpectedProcessingError,
                format!("more than {} nested S/MIME layers", self.limits.max_depth),
            )
        })
    }

    /// Ends layer `id`: its own failure discards what was found inside it (the in-memory
    /// path never got there); its success records `layer` in front of the inner ones.
    pub(crate) fn conclude(
        &mut self,
        id: usize,
        outcome: Result<(), Fail>,
        layer: Layer,
        record: impl FnOnce(&mut Facts),
    ) -> Result<(), Fail> {
        match &outcome {
            Err(f) if f.is_of(id) => self.facts = Facts::default(),
            Err(Fail::Layer { id: other, .. }) if *other < id => {}
            Err(Fail::Local(_) | Fail::Retry | Fail::Fallback) => {}
            _ => {
                self.facts.layers.insert(0, layer);
                record(&mut self.facts);
            }
        }
        outcome
    }
}
