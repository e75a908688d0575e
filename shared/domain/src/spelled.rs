//! Enums stored and sent as Teams and Herald spell them (`groupChat`, `optedOut`): each lists its
//! variants in `ALL` and names each with `as_str`, and reads and prints through those two alone.

/// `FromStr` (the variant whose `as_str` is the text, else `DomainError::$unknown`) and `Display`
/// (its `as_str`) for an enum with `ALL` and `as_str`.
macro_rules! spelled_enum {
    ($name:ident, $unknown:ident) => {
        impl std::str::FromStr for $name {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|t| t.as_str() == s)
                    .ok_or_else(|| $crate::DomainError::$unknown(s.to_owned()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use spelled_enum;
