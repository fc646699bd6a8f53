-- Sessions remember their account's epoch at login. Bumping it (a password change, "log out
-- everywhere else") ends every other session of the account on its next request.
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;

-- Whether the account's owner is known to control its email address: true when a provider
-- vouched for it at sign-up. A password sign-up's address stays unverified (nothing checks
-- it yet), and a provider login never enters an account whose address is unverified: that
-- would hand a victim's later "Continue with Google" to whoever registered their address.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- Accounts made by a provider login (no password, an identity) got their address from it.
UPDATE users SET email_verified = true
 WHERE password_hash IS NULL
   AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id);
