//! API tokens: HS256 JWTs naming the account and its session epoch. A token stops working
//! the moment its account is disabled or deleted, or its password changes (which starts a
//! new epoch), because every request checks the account (`auth`), not only the signature.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{accounts::model::UserId, config::ApiSettings};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The account's id, in decimal (JWT's `sub` is a string).
    pub sub: String,
    /// The account's session epoch when the token was made.
    pub epoch: i32,
    pub iat: i64,
    pub exp: i64,
}

/// What a good token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user: UserId,
    /// The account's session epoch when it was made.
    pub epoch: i32,
    /// When it was made (Unix seconds): a fresh one stands for a recent login.
    pub issued_at: i64,
}

/// Makes and checks tokens with the site's key.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl Tokens {
    /// `api.jwt_secret`, or when it is empty a key derived from `session.secret` (so one
    /// secret is enough to run; a separate one lets the two be rotated apart).
    pub fn new(api: &ApiSettings, session_secret: &str) -> Self {
        let key: Vec<u8> = match api.jwt_secret.expose_secret() {
            "" => Sha256::new()
                .chain_update(b"quire api token key\0")
                .chain_update(session_secret.as_bytes())
                .finalize()
                .to_vec(),
            secret => secret.as_bytes().to_vec(),
        };
        // One algorithm only: a token claiming `none`, RS256 or anything else is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            ttl_secs: i64::from(api.token_ttl_hours) * 3600,
        }
    }

    /// A new token for `user` under `epoch`.
    pub fn issue(&self, user: UserId, epoch: i32) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: user.0.to_string(),
            epoch,
            iat: now,
            exp: now + self.ttl_secs,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a token this site signed that has not expired; `None` for anything
    /// else (malformed, forged, another key or algorithm, expired).
    pub fn verify(&self, token: &str) -> Option<Verified> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        Some(Verified {
            user: UserId(claims.sub.parse().ok()?),
            epoch: claims.epoch,
            issued_at: claims.iat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn tokens(secret: &str, ttl_hours: u32) -> Tokens {
        let api = ApiSettings {
            jwt_secret: SecretString::from(secret),
            token_ttl_hours: ttl_hours,
            ..ApiSettings::default()
        };
        Tokens::new(&api, "a session secret of at least thirty-two characters")
    }

    #[test]
    fn a_token_round_trips_and_nothing_else_passes() -> anyhow::Result<()> {
        let ours = tokens("", 1);
        let token = ours.issue(UserId(7), 3)?;
        assert_eq!(
            ours.verify(&token).map(|v| (v.user, v.epoch)),
            Some((UserId(7), 3))
        );

        // Another key.
        assert!(tokens("another key entirely", 1).verify(&token).is_none());
        // A changed signature, a changed payload, garbage.
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(ours.verify(&forged).is_none());
        let parts: Vec<&str> = token.split('.').collect();
        let other = ours.issue(UserId(8), 3)?;
        let other_payload = other.split('.').nth(1).unwrap_or_default();
        let swapped = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        assert!(ours.verify(&swapped).is_none());
        assert!(ours.verify("not a token").is_none());
        assert!(ours.verify("").is_none());
        Ok(())
    }

    #[test]
    fn alg_none_and_expired_tokens_are_refused() -> anyhow::Result<()> {
        let ours = tokens("", 1);
        let token = ours.issue(UserId(7), 0)?;
        let payload = token.split('.').nth(1).unwrap_or_default();
        // {"alg":"none","typ":"JWT"}, unsigned.
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(ours.verify(&none).is_none());
        let expired = tokens("", 0).issue(UserId(7), 0)?;
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(ours.verify(&expired).is_none());
        Ok(())
    }
}
