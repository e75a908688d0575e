//! The emulator identity: OpenID metadata, JWKS with test RSA keys, and minted inbound tokens.
