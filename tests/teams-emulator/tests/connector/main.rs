//! The connector side of the emulator, as a client sees it: rate limits and the traffic counters.

mod limits;
mod support;
mod traffic;
