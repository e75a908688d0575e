//! Inbound Bot Framework JWT validation (PROTOCOL 3).
