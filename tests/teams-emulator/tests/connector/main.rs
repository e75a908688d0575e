//! The connector side of the emulator, as a client sees it: rate limits, latency, outages and
//! the traffic counters.

mod latency;
mod limits;
mod outages;
mod support;
mod traffic;
