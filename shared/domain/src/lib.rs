//! Herald's domain: the typed ids Teams hands us and the [`ConversationReference`] that lets any
//! function message a conversation later. Everything here is pure (no I/O), so parsing and
//! validation are tested once and trusted by every crate above.

pub mod cards;
mod clock;
mod error;
mod ids;
mod notification;
mod outbox_ids;
pub mod pace;
mod reference;
mod spelled;
mod time_zone;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::DomainError;
pub use ids::{AadObjectId, BotAppId, BotId, ChannelId, ConversationId, TeamId, TenantId, UserId};
pub use notification::{ChannelSelector, DeliveryStatus, Target};
pub use outbox_ids::{DeliveryId, NotificationId, ScheduleId};
pub use reference::{
    ChannelInfo, ConversationKey, ConversationReference, ConversationType, NO_ZONE,
    ReferenceStatus, ServiceUrl, TeamInfo, UserInfo, ZoneMove,
};
pub use time_zone::TimeZone;
