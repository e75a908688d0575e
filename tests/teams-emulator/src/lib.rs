//! A local emulator of the Teams side of Bot Framework, for Herald's tests.

pub mod identity;
