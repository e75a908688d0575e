//! A schedule store that runs a test's step before each update: a race or a failure injected at
//! the one write the scheduler and the API contend for.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use herald_domain::ConversationKey;
use herald_store::{Page, PageRequest, ScheduleId, ScheduleRecord, ScheduleStore, StoreError};

type Step = dyn Fn(Arc<dyn ScheduleStore>, ScheduleRecord) -> BoxFuture<'static, Result<(), StoreError>>
    + Send
    + Sync;

/// Delegates to `inner`, running `step` (given `inner` and the record) before every update; an
/// error from `step` is the update's error.
pub struct BeforeUpdate {
    inner: Arc<dyn ScheduleStore>,
    step: Box<Step>,
}

impl BeforeUpdate {
    pub fn new<F>(
        inner: Arc<dyn ScheduleStore>,
        step: impl Fn(Arc<dyn ScheduleStore>, ScheduleRecord) -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        Self {
            inner,
            step: Box::new(move |store, record| Box::pin(step(store, record))),
        }
    }
}

#[async_trait]
impl ScheduleStore for BeforeUpdate {
    async fn create_schedule(&self, record: &ScheduleRecord) -> Result<(), StoreError> {
        self.inner.create_schedule(record).await
    }
    async fn get_schedule(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, StoreError> {
        self.inner.get_schedule(id).await
    }
    async fn update_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        (self.step)(self.inner.clone(), record.clone()).await?;
        self.inner.update_schedule(record).await
    }
    async fn delete_schedule(&self, id: &ScheduleId) -> Result<bool, StoreError> {
        self.inner.delete_schedule(id).await
    }
    async fn list_schedules(&self, page: &PageRequest) -> Result<Page<ScheduleRecord>, StoreError> {
        self.inner.list_schedules(page).await
    }
    async fn schedules_of(
        &self,
        owner: &ConversationKey,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.schedules_of(owner).await
    }
    async fn due_page(
        &self,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> Result<Page<ScheduleRecord>, StoreError> {
        self.inner.due_page(now, page).await
    }
}
