use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use crate::ApiError;

/// The largest body a router's state accepts.
pub trait BodyLimit {
    fn body_limit(&self) -> usize;
}

impl<T: BodyLimit + ?Sized> BodyLimit for std::sync::Arc<T> {
    fn body_limit(&self) -> usize {
        (**self).body_limit()
    }
}

/// The request body, read whole up to the state's [`BodyLimit`]; a larger one is refused with
/// `413 PayloadTooLarge` before anything else reads it.
#[derive(Debug, Clone)]
pub struct Body(pub Bytes);

impl<S: BodyLimit + Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let limit = state.body_limit();
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(length) = declared.filter(|length| *length > limit) {
            return Err(too_large(&format!(
                "the body is {length} bytes; the limit is {limit}"
            )));
        }
        axum::body::to_bytes(request.into_body(), limit)
            .await
            .map(Body)
            .map_err(|_| too_large(&format!("the body is over the limit of {limit} bytes")))
    }
}

fn too_large(message: &str) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Limit(usize);

    impl BodyLimit for Limit {
        fn body_limit(&self) -> usize {
            self.0
        }
    }

    async fn read(body: &'static [u8], content_length: bool) -> Result<Bytes, ApiError> {
        let mut request = Request::builder().method("POST").uri("/");
        if content_length {
            request = request.header(header::CONTENT_LENGTH, body.len());
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        Body::from_request(request, &Limit(4)).await.map(|b| b.0)
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_read_and_larger_ones_refused() {
        assert_eq!(
            read(b"abcd", true).await.unwrap(),
            Bytes::from_static(b"abcd")
        );
        for declared in [true, false] {
            let error = read(b"abcde", declared).await.unwrap_err();
            assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(error.code(), "PayloadTooLarge");
            assert!(error.message().contains("limit"), "{error}");
            assert!(error.message().contains('4'), "{error}");
        }
    }
}
