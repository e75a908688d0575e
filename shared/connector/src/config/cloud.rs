//! Which Microsoft cloud and which kind of app registration the bot is: they decide the token's authority and scope.

/// `MicrosoftAppType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppType {
    /// The only kind Azure creates since mid-2025: tokens come from the bot's own tenant.
    #[default]
    SingleTenant,
    /// Legacy registrations: tokens come from the `botframework.com` tenant.
    MultiTenant,
}

/// Which Microsoft cloud issues tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Public,
    /// US Government (GCC High / DoD).
    UsGov,
}

impl Cloud {
    #[must_use]
    pub fn login_host(self) -> &'static str {
        match self {
            Self::Public => "https://login.microsoftonline.com",
            Self::UsGov => "https://login.microsoftonline.us",
        }
    }

    #[must_use]
    pub fn scope(self) -> &'static str {
        match self {
            Self::Public => "https://api.botframework.com/.default",
            Self::UsGov => "https://api.botframework.us/.default",
        }
    }
}
