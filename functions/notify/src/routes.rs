//! The routes of `openapi.json`. Unknown paths answer 404 and known paths 405 (naming the methods
//! they accept) in Herald's JSON error shape, after the API key is checked: nothing is revealed
//! to a caller without one.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post, put};
use herald_http::ApiError;

use crate::extract::require_api_key;
use crate::{Notify, audience, installations, notifications, render, schedule_preview, schedules};

/// The notify API as one router over its dependencies, with the console that is its client.
pub fn router(notify: Arc<Notify>) -> Router {
    Router::new()
        .route("/api/notify", only("POST", post(notifications::create)))
        .route("/api/notifications", only("GET", get(notifications::list)))
        .route("/api/audience", only("POST", post(audience::estimate)))
        .route("/api/render", only("POST", post(render::render)))
        .route(
            "/api/notifications/{id}",
            only("GET", get(notifications::status)),
        )
        .route(
            "/api/notifications/{id}/deliveries",
            only("GET", get(notifications::deliveries)),
        )
        .route(
            "/api/notifications/{id}/message",
            only(
                "PUT, DELETE",
                put(notifications::update_message).delete(notifications::retract_message),
            ),
        )
        .route("/api/installations", only("GET", get(installations::list)))
        .route(
            "/api/schedules",
            only("GET, POST", get(schedules::list).post(schedules::create)),
        )
        .route(
            "/api/schedules/{id}",
            only(
                "GET, PATCH, DELETE",
                get(schedules::get)
                    .patch(schedules::patch)
                    .delete(schedules::delete),
            ),
        )
        .route(
            "/api/schedules/preview",
            only("POST", post(schedule_preview::draft)),
        )
        .route(
            "/api/schedules/{id}/preview",
            only("GET", get(schedule_preview::saved)),
        )
        .fallback(not_found)
        .layer(from_fn_with_state(notify.clone(), require_api_key))
        .with_state(notify)
        // The console's page and assets are public (they hold no data); what they show comes
        // from the routes above, with the key the user gives them.
        .merge(herald_console::router())
}

/// Routes served beside the API (the local runner's `/api/events`) behind the same API key.
pub fn with_api_key<S>(routes: Router<S>, notify: &Arc<Notify>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(from_fn_with_state(notify.clone(), require_api_key))
}

/// A route's methods, and a 405 naming them for any other (a path with an empty segment, such
/// as an empty `{id}`, is no route at all).
fn only(allowed: &'static str, methods: MethodRouter<Arc<Notify>>) -> MethodRouter<Arc<Notify>> {
    methods.fallback(move |uri: Uri| async move {
        if uri.path().split('/').skip(1).any(str::is_empty) {
            return not_found(uri).await;
        }
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} accepts {allowed}", uri.path()),
        )
    })
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("no route {}", uri.path()),
    )
}
