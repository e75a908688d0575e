//! The connector side of the emulator, as a client sees it: rate limits, latency and the traffic
//! counters.

mod latency;
mod limits;
mod support;
mod traffic;
