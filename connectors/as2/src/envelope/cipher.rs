//! The content decryption of the streaming decryptor: CBC or GCM over the
//! encrypted content as it streams, either into one output buffer that is only
//! returned once the padding or the tag checked out (collecting), or handed on
//! piece by piece (streaming: the reader's caller learns at the end whether
//! the padding or tag checked out).

use super::keys::{self, ContentKey};
use super::{
    decryption, malformed, too_large, ContentAlg, Limits, StreamDecryptError, Trailer, CHUNK,
};
use crate::cms;
use openssl::symm::{Cipher, Crypter, Mode};

/// Room beyond a piece's length that `Crypter::update` needs in its output (one block).
const SCRATCH_SLACK: usize = 32;

pub(super) enum Reserve {
    /// The ciphertext length.
    Exact(u64),
    /// The ciphertext length, for the size check only: a streamed decryption collects nothing.
    ExactUnreserved(u64),
    /// An upper bound on the ciphertext length (segment headers included).
    AtMost(u64),
    Unknown,
}

pub(super) struct Decryptor {
    crypter: Crypter,
    out: Vec<u8>,
    /// Bytes decrypted so far (the output may have been taken while streaming).
    produced: u64,
    scratch: Vec<u8>,
    max: usize,
    /// Cipher, key and nonce kept for a GCM tag check over the output, needed
    /// when authAttrs (which come after the content) are the AAD.
    gcm: Option<(Cipher, Vec<u8>, Vec<u8>, usize)>,
    /// For a tag appended to the content: the last ciphertext bytes seen so
    /// far, held back until the end shows whether they are the tag.
    held: Option<Vec<u8>>,
    /// Why padding or tag checks fail: the key may be wrong or the content
    /// altered.
    failure: &'static str,
}

impl Decryptor {
    pub(super) fn new(
        alg: &ContentAlg,
        key: &ContentKey,
        limits: &Limits,
        reserve: Reserve,
    ) -> Result<Decryptor, StreamDecryptError> {
        let failure = match (key.named, alg.icv_len) {
            (false, _) => keys::NO_RECIPIENT,
            (true, None) => "bad padding after decryption (wrong key or altered content)",
            (true, Some(_)) => "authentication tag mismatch (wrong key or altered content)",
        };
        let key = &key.key;
        if key.len() != alg.cipher.key_len() {
            return Err(decryption(format!(
                "content-encryption key of {} bytes for a cipher with {}-byte keys",
                key.len(),
                alg.cipher.key_len()
            )));
        }
        let crypter = Crypter::new(alg.cipher, Mode::Decrypt, key, Some(&alg.iv))
            .map_err(|e| decryption(cms::reason(&e)))?;
        let max = limits.max_content;
        // CBC padding is at most one block, so a longer ciphertext cannot fit.
        // An appended tag is not content either.
        let overhead = match alg.icv_len {
            None => alg.cipher.block_size(),
            Some(icv) if alg.tag_appended => icv,
            Some(_) => 0,
        };
        let reserve = match reserve {
            Reserve::Exact(len) | Reserve::ExactUnreserved(len) => {
                if len.saturating_sub(overhead as u64) > max as u64 {
                    return Err(too_large(max));
                }
                if matches!(reserve, Reserve::ExactUnreserved(_)) {
                    0
                } else {
                    len
                }
            }
            Reserve::AtMost(len) => len,
            Reserve::Unknown => 0,
        };
        let reserve = usize::try_from(reserve).unwrap_or(usize::MAX).min(max);
        let mut out = Vec::new();
        out.try_reserve_exact(reserve)
            .map_err(|_| decryption(format!("cannot reserve {reserve} bytes for the content")))?;
        Ok(Decryptor {
            crypter,
            out,
            produced: 0,
            // Crypter::update wants room for one block more than its input. No larger than the
            // content may be: a small message's two 64 KiB buffers (this one and the reader's)
            // cost more to allocate and zero than its whole AES decryption.
            scratch: vec![0; CHUNK.min(max.max(16)) + SCRATCH_SLACK],
            max,
            gcm: alg
                .icv_len
                .map(|icv| (alg.cipher, key.clone(), alg.iv.clone(), icv)),
            held: alg
                .tag_appended
                .then(|| Vec::with_capacity(2 * alg.icv_len.unwrap_or(0))),
            failure,
        })
    }

    pub(super) fn update(&mut self, data: &[u8]) -> Result<(), StreamDecryptError> {
        let Some(mut held) = self.held.take() else {
            return self.decrypt(data);
        };
        let keep = self.gcm.as_ref().map_or(0, |g| g.3);
        // Decrypt all but the last `keep` bytes of what was held plus `data`.
        let result = match data.len().checked_sub(keep) {
            Some(body) => {
                let (body, tail) = data.split_at(body);
                let r = self.decrypt(&held).and_then(|()| self.decrypt(body));
                held.clear();
                held.extend_from_slice(tail);
                r
            }
            None => {
                held.extend_from_slice(data);
                let excess = held.len().saturating_sub(keep);
                let r = self.decrypt(held.get(..excess).unwrap_or(&[]));
                held.drain(..excess);
                r
            }
        };
        self.held = Some(held);
        result
    }

    fn decrypt(&mut self, data: &[u8]) -> Result<(), StreamDecryptError> {
        let chunk = self.scratch.len() - SCRATCH_SLACK;
        for piece in data.chunks(chunk) {
            let n = self
                .crypter
                .update(piece, &mut self.scratch)
                .map_err(|e| decryption(cms::reason(&e)))?;
            self.push(n)?;
        }
        Ok(())
    }

    fn push(&mut self, n: usize) -> Result<(), StreamDecryptError> {
        let produced = self
            .scratch
            .get(..n)
            .ok_or_else(|| decryption("cipher output larger than its buffer"))?;
        self.produced = self
            .produced
            .checked_add(n as u64)
            .filter(|&t| t <= self.max as u64)
            .ok_or_else(|| too_large(self.max))?;
        let needed = self.out.len() + n;
        if needed > self.out.capacity() {
            // Doubling like Vec would, but never past the limit.
            let target = needed
                .max(self.out.capacity().saturating_mul(2))
                .min(self.max);
            self.out
                .try_reserve_exact(target - self.out.len())
                .map_err(|_| {
                    decryption(format!("cannot reserve {target} bytes for the content"))
                })?;
        }
        self.out.extend_from_slice(produced);
        Ok(())
    }

    /// The plaintext decrypted and not yet taken: a streaming caller empties it after each
    /// update.
    pub(super) fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Ends a streamed decryption: the last plaintext goes to [`Decryptor::output`]. With
    /// authAttrs (the GCM AAD after the content) the tag cannot be checked over output that was
    /// handed on; the returned [`TagCheck`] must then be run over the ciphertext again.
    pub(super) fn finish_stream(
        mut self,
        trailer: Trailer,
    ) -> Result<(Vec<u8>, Option<TagCheck>), StreamDecryptError> {
        if trailer.aad.is_some() && self.held.is_none() {
            let (cipher, key, nonce, icv_len) = self
                .gcm
                .take()
                .ok_or_else(|| malformed("authAttrs without GCM"))?;
            let mac = trailer.mac.ok_or_else(|| malformed("missing mac"))?;
            if mac.len() != icv_len {
                return Err(decryption(format!(
                    "authentication tag of {} bytes where {icv_len} are declared",
                    mac.len()
                )));
            }
            let check = TagCheck {
                cipher,
                key,
                nonce,
                aad: trailer.aad.unwrap_or_default(),
                mac,
                failure: self.failure,
            };
            return Ok((self.out, Some(check)));
        }
        self.finish(trailer).map(|out| (out, None))
    }

    pub(super) fn finish(mut self, trailer: Trailer) -> Result<Vec<u8>, StreamDecryptError> {
        let failure = self.failure;
        let Some((cipher, key, nonce, icv_len)) = self.gcm.take() else {
            let n = self
                .crypter
                .finalize(&mut self.scratch)
                .map_err(|_| decryption(failure))?;
            self.push(n)?;
            return Ok(self.out);
        };
        let mac = match self.held.take() {
            Some(tag) if tag.len() < icv_len => {
                return Err(decryption(format!(
                    "encrypted content shorter than its {icv_len}-byte authentication tag"
                )))
            }
            Some(tag) => tag,
            None => trailer.mac.ok_or_else(|| malformed("missing mac"))?,
        };
        if mac.len() != icv_len {
            return Err(decryption(format!(
                "authentication tag of {} bytes where {icv_len} are declared",
                mac.len()
            )));
        }
        let Some(aad) = trailer.aad else {
            self.crypter
                .set_tag(&mac)
                .map_err(|e| decryption(cms::reason(&e)))?;
            let n = self
                .crypter
                .finalize(&mut self.scratch)
                .map_err(|_| decryption(failure))?;
            self.push(n)?;
            return Ok(self.out);
        };
        // GCM takes the AAD before the ciphertext, but authAttrs follow it:
        // the content was decrypted unauthenticated (CTR does not depend on
        // the AAD) and the tag is now recomputed by encrypting the output
        // again with the AAD first.
        let mut check = Crypter::new(cipher, Mode::Encrypt, &key, Some(&nonce))
            .map_err(|e| decryption(cms::reason(&e)))?;
        let reason = |e: openssl::error::ErrorStack| decryption(cms::reason(&e));
        check.aad_update(&aad).map_err(reason)?;
        for piece in self.out.chunks(CHUNK) {
            check.update(piece, &mut self.scratch).map_err(reason)?;
        }
        check.finalize(&mut self.scratch).map_err(reason)?;
        let mut tag = vec![0; icv_len];
        check.get_tag(&mut tag).map_err(reason)?;
        if !openssl::memcmp::eq(&tag, &mac) {
            return Err(decryption(failure));
        }
        Ok(self.out)
    }
}

/// A GCM tag to check over the ciphertext once the AAD, which follows the content, is known.
pub(super) struct TagCheck {
    cipher: Cipher,
    key: Vec<u8>,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    mac: Vec<u8>,
    failure: &'static str,
}

impl TagCheck {
    /// A decryption whose plaintext is thrown away, with the AAD first, so that finishing it
    /// checks the tag.
    pub(super) fn start(self) -> Result<TagChecker, StreamDecryptError> {
        let reason = |e: openssl::error::ErrorStack| decryption(cms::reason(&e));
        let mut crypter = Crypter::new(self.cipher, Mode::Decrypt, &self.key, Some(&self.nonce))
            .map_err(reason)?;
        crypter.aad_update(&self.aad).map_err(reason)?;
        Ok(TagChecker {
            crypter,
            mac: self.mac,
            scratch: vec![0; CHUNK + 32],
            failure: self.failure,
        })
    }
}

pub(super) struct TagChecker {
    crypter: Crypter,
    mac: Vec<u8>,
    scratch: Vec<u8>,
    failure: &'static str,
}

impl TagChecker {
    pub(super) fn update(&mut self, data: &[u8]) -> Result<(), StreamDecryptError> {
        for piece in data.chunks(CHUNK) {
            self.crypter
                .update(piece, &mut self.scratch)
                .map_err(|e| decryption(cms::reason(&e)))?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<(), StreamDecryptError> {
        let failure = self.failure;
        self.crypter
            .set_tag(&self.mac)
            .map_err(|e| decryption(cms::reason(&e)))?;
        self.crypter
            .finalize(&mut self.scratch)
            .map_err(|_| decryption(failure))?;
        Ok(())
    }
}
