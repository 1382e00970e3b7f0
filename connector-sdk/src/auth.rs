//! HTTP basic authentication (RFC 7617): the one credentials section every connector and the
//! host's shared web server read, and the check of a request against it.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::abi::{Problem, Request};
use crate::secret::Secret;
use crate::settings::problem;

/// User name and password partners must send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: String,
    pub password: Secret,
}

impl BasicAuth {
    /// Does the request carry these credentials?
    ///
    /// Compares in time independent of where the first difference is, so that a peer cannot
    /// guess a password byte by byte from response times.
    pub fn matches(&self, request: &Request<'_>) -> bool {
        request
            .header("authorization")
            .is_some_and(|value| self.matches_header(value))
    }

    /// Does an `Authorization` header value carry these credentials? For the host's shared web
    /// server, which checks before any connector sees the request.
    pub fn matches_header(&self, value: &[u8]) -> bool {
        credentials_match(value, &self.user, self.password.expose())
    }

    /// Problems the types cannot rule out; `at` is the section's JSON pointer (`/basic_auth`).
    pub fn check(&self, at: &str) -> Vec<Problem> {
        if self.user.contains(':') {
            // RFC 7617: the first colon separates the user from the password.
            return vec![problem(
                &format!("{at}/user"),
                "a user name cannot contain `:`",
            )];
        }
        Vec::new()
    }
}

/// Does an `Authorization` header value carry basic credentials equal to `user` and
/// `password`?
fn credentials_match(value: &[u8], user: &str, password: &str) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = decode_base64(encoded.trim()) else {
        return false;
    };
    let expected = format!("{user}:{password}");
    constant_time_eq(&decoded, expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding, as RFC 7617 uses; `None` on anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let produced = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&produced[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::Header;
    use abi_stable::std_types::ROption;

    fn auth(user: &str, password: &str) -> BasicAuth {
        BasicAuth {
            user: user.into(),
            password: password.into(),
        }
    }

    fn request_with(headers: &[Header<'_>], f: impl FnOnce(&Request<'_>)) {
        let request = Request {
            method: "GET".into(),
            path: "/".into(),
            query: ROption::RNone,
            headers: headers.into(),
            body: (&[][..]).into(),
            body_file: ROption::RNone,
            body_offset: 0,
            body_len: 0,
            payload_file: ROption::RNone,
            remote_addr: "127.0.0.1:1".into(),
            client_certificate: ROption::RNone,
            secure: false,
        };
        f(&request)
    }

    #[test]
    fn basic_auth_accepts_exact_credentials_only() {
        // "partner:s3cret"
        let good = [Header {
            name: "authorization".into(),
            value: b"Basic cGFydG5lcjpzM2NyZXQ="[..].into(),
        }];
        request_with(&good, |r| assert!(auth("partner", "s3cret").matches(r)));
        request_with(&good, |r| assert!(!auth("partner", "s3cre").matches(r)));
        let garbage = [Header {
            name: "authorization".into(),
            value: b"Basic ###"[..].into(),
        }];
        request_with(&garbage, |r| assert!(!auth("partner", "s3cret").matches(r)));
        request_with(&[], |r| assert!(!auth("partner", "s3cret").matches(r)));
    }

    #[test]
    fn base64_round_trips_padding() {
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert!(decode_base64("YWJ").is_none());
    }

    #[test]
    fn debug_shows_the_user_and_hides_the_password() {
        let printed = format!("{:?}", auth("partner", "s3cret"));
        assert!(printed.contains("partner"), "{printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn a_user_with_a_colon_is_a_problem() {
        let problems = auth("a:b", "x").check("/basic_auth");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer.as_str(), "/basic_auth/user");
        assert!(auth("ab", "x").check("/basic_auth").is_empty());
    }
}
